"""The pipeline's exceptions, and the list of every package's errors the CLI maps to exit codes.

Each package owns its exceptions, so the lower layers import nothing from above:

    orchestrator.errors.AdsftError           exit 1: something in the pipeline failed
    ├── InputError                           exit 2: bad input; carries every problem, with file and line
    │   └── BudgetExceeded                   exit 2: the estimate is over the user's --max-cost
    providers.errors.ProviderError           exit 1: a provider refused or failed
    ├── ProviderUnavailable                  exit 1: cannot take this job (no key, wound down, ...)
    └── ProviderInputError                   exit 2: the provider found the input wrong
    rules.errors.PackError                   exit 2: a rule pack or YAML file is wrong (file/line problems)

Every message is written for the user and, where there is one, names the fix. Lower-level exceptions
are translated once, at the boundary, with ``raise ... from exc``. The CLI maps all of them
(``USER_ERRORS``) to exit codes in one place (``orchestrator.cli.main``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from providers.errors import ProviderError, ProviderInputError, ProviderUnavailable
from rules.errors import PackError, Problem

__all__ = [
    "USER_ERRORS",
    "AdsftError",
    "BudgetExceeded",
    "InputError",
    "PackError",
    "Problem",
    "ProviderError",
    "ProviderInputError",
    "ProviderUnavailable",
    "as_input_error",
]


class AdsftError(Exception):
    """Base of every error adsft raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


class InputError(AdsftError):
    """The user's input is wrong. All problems found are reported at once."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None, *, fix: str | None = None):
        super().__init__(message, fix=fix)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        lines = [self.message, *(f"  {p}" for p in self.problems)]
        return "\n".join(lines)


class BudgetExceeded(InputError):
    """An estimate is above the budget the user set; nothing was uploaded or charged."""


# what the CLI turns into a message and an exit code (no traceback unless ADSFT_DEBUG=1)
USER_ERRORS: tuple[type[Exception], ...] = (AdsftError, ProviderError, PackError)


@contextmanager
def as_input_error() -> Iterator[None]:
    """A PackError from reading a YAML file (rules.loader.read_yaml) becomes the pipeline's InputError."""
    try:
        yield
    except PackError as exc:
        raise InputError(exc.message, exc.problems, fix=exc.fix) from None
