"""Fact fidelity of a synthetic message: every number (amount, rate, date, count) in it is one of the
brief's facts, with the brief's unit, and every required fact is there.

Numbers are compared as values ("10 000 ₽" = "10000 ₽", "0,05%" = "0.05%"), each with the currency
sign before it and the unit after it ("%", "₽", or the first two letters of the next word: "120 дней"
and "120 дня" agree, "7%" and "7 дней" do not). A number of the brief with no unit (a date's day, a
model number) matches whatever follows it in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rules import Brief

_NUMBER_RE = re.compile(
    r"(?P<pre>[$€£₽]?)(?P<num>\d{1,3}(?:(?:[ \u00a0\u202f]|,(?=\d{3}(?!\d)))\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
    r"(?P<gap>[ \u00a0\u202f]?)(?P<unit>[%₽$€£]|[^\W\d_]{1,2})?"
)


@dataclass(frozen=True)
class Number:
    value: float
    pre: str
    unit: str

    def agrees(self, fact: Number) -> bool:
        return self.value == fact.value and self.pre == fact.pre and (not fact.unit or self.unit == fact.unit)


@dataclass
class Fidelity:
    foreign: list[str] = field(default_factory=list)  # numbers in the message that are not the brief's
    missing: list[str] = field(default_factory=list)  # required attributes the message does not state

    @property
    def ok(self) -> bool:
        return not self.foreign and not self.missing


def _value(raw: str) -> float:
    raw = re.sub(r"[ \u00a0\u202f]", "", raw)
    if re.fullmatch(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?", raw):  # 100,000 or 1,499.50; not 0,025
        raw = raw.replace(",", "")
    return float(raw.replace(",", "."))


def numbers(text: str) -> list[Number]:
    """Every number in the text with its currency sign and unit."""
    out = []
    for m in _NUMBER_RE.finditer(text):
        start = m.start("num")
        if start > 0 and (text[start - 1].isalpha() or text[start - 1] in ".,"):
            unit = ""  # part of a name ("S24") or of a larger number: no unit to compare
        else:
            unit = (m.group("unit") or "").lower()
        out.append(Number(_value(m.group("num")), m.group("pre"), unit))
    return out


def brief_numbers(brief: Brief) -> dict[str, list[Number]]:
    """The brief's numbers per attribute, and under "" those of its product name, keywords and CTA."""
    facts = {key: numbers(str(value)) for key, value in brief.attributes.items() if not isinstance(value, bool)}
    facts[""] = numbers(" | ".join([brief.product, *brief.keywords, brief.offer or "", brief.cta or ""]))
    return facts


def _words_present(value: str, text: str) -> bool:
    low = text.lower()
    words = re.findall(r"[^\W\d_]+", value.lower())
    return all(w[: max(4, len(w) - 2)] in low for w in words)


def check(text: str, brief: Brief) -> Fidelity:
    report = Fidelity()
    facts = brief_numbers(brief)
    for number in numbers(text):
        if not any(number.agrees(f) for found in facts.values() for f in found):
            shown = f"{number.pre}{number.value:g}{(' ' + number.unit) if number.unit else ''}"
            report.foreign.append(shown)
    mine = numbers(text)
    for key in brief.required_attributes:
        value = brief.attributes[key]
        if isinstance(value, bool):
            continue
        wanted = facts.get(key, [])
        if wanted:
            if not all(any(n.agrees(f) for n in mine) for f in wanted):
                report.missing.append(key)
        elif not _words_present(str(value), text):
            report.missing.append(key)
    return report
