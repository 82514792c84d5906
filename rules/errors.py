"""The rule engine's own error type: a pack (or any YAML file read through rules.loader) that is wrong,
with every problem found, each with its file and line. The rule engine imports nothing of the other
packages; the CLI maps PackError to exit code 2 (bad input)."""

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


class PackError(Exception):
    """A rule pack or YAML file is wrong; carries every problem found at once."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.problems = list(problems or [])

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  {p}" for p in self.problems)])
