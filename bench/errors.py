"""Exception hierarchy: every error a user can cause is a :class:`HardbenchError` with a clear message.

Errors are raised at the boundary (loading a bank, a task, a submission, parsing arguments);
code past that boundary trusts the validated objects it receives.
"""

from __future__ import annotations


class HardbenchError(Exception):
    """Base class: a problem with the user's input, reported as one clear message."""


class BankFormatError(HardbenchError):
    """A sample bank is malformed: names the file and the problem."""


class TaskConfigError(HardbenchError):
    """A task definition (``tasks/<name>/task.yaml``) is malformed or unknown."""


class UnknownNameError(HardbenchError):
    """A name (task, bank, submission, extractor, ...) is not registered."""


class PredictorContractError(HardbenchError):
    """A submission's predictions break the predictor protocol (shape, range, ids, NaN, ...)."""


class SubmissionError(HardbenchError):
    """A submission could not be loaded or run (import error, exception, timeout)."""


class UnsafeExecutionError(HardbenchError):
    """Executing untrusted code was requested without the required opt-in or sandbox."""


class ResultFormatError(HardbenchError):
    """A result file is malformed or of an unknown format version."""


class HardbenchWarning(UserWarning):
    """The numbers were computed, but something limits what they can support (shown, and recorded in the result)."""
