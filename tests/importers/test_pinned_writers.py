"""The byte-for-byte rebuild tests hold only under the writer versions the banks were made with.

Parquet files record the pandas and pyarrow versions that wrote them, so a rebuild under other
versions differs in those bytes although every table is equal.  ``constraints.txt`` pins them for
the project's virtualenv; these tests say so plainly when the environment or a shipped bank
disagrees with it, instead of leaving only a checksum mismatch to decode.
"""

import json
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.bank import available_banks
from bench.paths import project_root, tasks_root


def pins() -> dict[str, str]:
    lines = (project_root() / "constraints.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_the_environment_has_the_pinned_writers() -> None:
    for package, pinned in pins().items():
        assert version(package) == pinned, (
            f"{package} {version(package)} is installed but constraints.txt pins {pinned}: the byte-for-byte "
            "rebuild tests will fail; install with `bash scripts/setup_venv.sh \"all,test\"`")


@pytest.mark.parametrize("task, bank", available_banks())
def test_every_shipped_parquet_was_written_by_the_pinned_writers(task: str, bank: str) -> None:
    pinned = pins()
    for path in sorted(Path(tasks_root() / task / "banks" / bank).glob("*.parquet")):
        metadata = pq.read_metadata(path)
        pandas_meta = json.loads(metadata.metadata[b"pandas"])
        assert pandas_meta["pandas_version"] == pinned["pandas"], path
        assert metadata.created_by == f"parquet-cpp-arrow version {pinned['pyarrow']}", path
