"""The one exception tree of adsft.

    AdsftError                    exit 1: something failed
    ├── InputError                exit 2: bad input; carries every problem found, with file and line
    │   └── BudgetExceeded        exit 2: the estimate is over the user's --max-cost
    └── ProviderError             exit 1: a provider refused or failed
        └── ProviderUnavailable   exit 1: the provider cannot take this job (no key, wound down, ...)

Every message is written for the user and, where there is one, names the fix. Lower-level exceptions
are translated once, at the boundary, with ``raise ... from exc``. The CLI maps the tree to exit codes
in one place (``orchestrator.cli``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong, how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    where: str | None = None  # a rule id, a field name, a column
    fix: str | None = None

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.where:
            parts.append(self.where)
        return " ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        return f"{text} (fix: {self.fix})" if self.fix else text

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "where": self.where, "message": self.message, "fix": self.fix}


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


class ProviderError(AdsftError):
    """A provider refused a request or failed."""


class ProviderUnavailable(ProviderError):
    """A provider cannot take this job at all; a fallback chain moves on to the next one."""
