"""What the rule engine takes and returns: messages, violations, check results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mypy_extensions import mypyc_attr

Level = Literal["error", "warning", "suggestion"]
LEVELS: tuple[str, ...] = ("error", "warning", "suggestion")
Scope = Literal["text", "title", "body", "cta"]
SCOPES: tuple[str, ...] = ("text", "title", "body", "cta")

# The stable category names. More may be added; none is ever renamed.
CATEGORIES: tuple[str, ...] = (
    "cliche",
    "abstract_claim",
    "superlative",
    "forbidden_word",
    "exclamation",
    "caps",
    "emoji",
    "length",
    "missing_cta",
    "fact_mismatch",
    "unsupported_number",
    "missing_required_fact",
    "placeholder",
    "repetition",
    "typography",
    "language",
)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
@dataclass(slots=True, unsafe_hash=True)  # a value, like Violation (not frozen: see there)
class Message:
    """An ad message: plain text, or a title/body/cta record.

    ``text`` is the parts joined with newlines (title, body, cta; missing parts left out); every
    violation offset is an offset into ``text``.
    """

    body: str
    title: str | None = None
    cta: str | None = None
    channel: str | None = None

    @property
    def text(self) -> str:
        if not self.title and not self.cta:
            return self.body
        return "\n".join(p for p in (self.title, self.body, self.cta) if p)

    def span_of(self, scope: str) -> tuple[int, int] | None:
        """Where a scope lies inside ``text``; None when the message has no such part."""
        if scope == "text":
            return 0, len(self.text)
        if not self.title and not self.cta:  # plain text: the body is all of it
            return (0, len(self.body)) if scope == "body" and self.body else None
        pos = 0
        for name, part in (("title", self.title), ("body", self.body), ("cta", self.cta)):
            if not part:
                continue
            if name == scope:
                return pos, pos + len(part)
            pos += len(part) + 1
        return None

    @classmethod
    def of(cls, value: str | Message | dict) -> Message:
        if isinstance(value, Message):
            return value
        if isinstance(value, str):
            return cls(body=value)
        if isinstance(value, dict):
            if "text" in value and "body" not in value:
                return cls(body=value["text"] or "", channel=value.get("channel"))
            return cls(
                body=value.get("body") or "",
                title=value.get("title"),
                cta=value.get("cta"),
                channel=value.get("channel"),
            )
        raise TypeError(f"a message is a string, a Message or a dict, not {type(value).__name__}")


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
@dataclass(slots=True, unsafe_hash=True)  # a value (compared and hashed by its fields); not frozen, since a
class Violation:  # frozen dataclass costs a guarded setattr per field, and checks make millions of these
    rule: str
    category: str
    level: str
    start: int
    end: int
    text: str
    message: str
    suggestion: str | None = None
    scope: str = "text"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rule": self.rule,
            "category": self.category,
            "level": self.level,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "message": self.message,
        }
        if self.suggestion:
            out["suggestion"] = self.suggestion
        return out


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
@dataclass(slots=True)
class CheckResult:
    text: str
    violations: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no error-level violation fired (warnings and suggestions do not block)."""
        return not any(v.level == "error" for v in self.violations)

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "error"]

    def categories(self, level: str | None = "error") -> set[str]:
        return {v.category for v in self.violations if level is None or v.level == level}

    def as_dict(self) -> dict[str, object]:
        return {"passed": self.passed, "violations": [v.as_dict() for v in self.violations]}
