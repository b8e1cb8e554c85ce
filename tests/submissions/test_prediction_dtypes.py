"""Bug 4 of issue 11: predictions of dtype str/object were silently coerced to float."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import PredictorContractError
from bench.predictors.base import check_predictions


@pytest.mark.parametrize("values", [
    np.array(["0.1", "0.5", "0.9"]),                       # str
    np.array([b"0.1", b"0.5", b"0.9"]),                    # bytes
    np.array([0.1, 0.5, 0.9], dtype=object),               # object holding floats
    ["0.1", "0.5", "0.9"],                                 # a list of strings
])
def test_non_numeric_predictions_are_refused(values) -> None:
    with pytest.raises(PredictorContractError, match="return a numeric array"):
        check_predictions(values, "success_prob", 3, 4, source="probe")


@pytest.mark.parametrize("values", [[0, 1, 1], np.array([0.1, 0.5, 0.9], dtype=np.float32), [0.25, 0.5, 0.75]])
def test_numeric_predictions_still_accepted(values) -> None:
    out = check_predictions(values, "success_prob", 3, 4, source="probe")
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np.asarray(values, dtype=np.float64))
