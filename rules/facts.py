"""The facts analysis: numeric claims in a message set against the brief they were written from.

Every claim is looked up among the brief's facts (attribute values, and numbers in the product name,
keywords, offer and call to action). A claim that agrees with one is supported; one of a kind the
brief states with another value (a percentage where the brief's percentages differ) is a mismatch;
any other is unsupported. A required attribute is mentioned when one of its values is claimed, or,
for a textual value, when each of its words appears (Russian words matched by their stem).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rules.brief import Brief
from rules.numbers import Mention, mentions, raw_value, same_value
from rules.text import WORD_RE, normalise


@dataclass(slots=True)
class FactsReport:
    mismatched: list[tuple[Mention, list[str]]] = field(default_factory=list)
    unsupported: list[Mention] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    agreed: list[tuple[Mention, list[str]]] = field(default_factory=list)


def _attribute_facts(value: object) -> tuple[Mention, ...]:
    if isinstance(value, bool):
        return ()
    if isinstance(value, int | float):
        return (Mention("number", float(value), None, 0, 0),)
    return mentions(str(value))


def _stem_mentioned(value: str, words: list[str]) -> bool:
    wanted = WORD_RE.findall(normalise(value))
    if not wanted:
        return True
    for w in wanted:
        prefix = w if len(w) < 4 else w[: max(4, len(w) - 2)]
        if not any(t == w or (len(w) >= 4 and t.startswith(prefix)) for t in words):
            return False
    return True


BriefFacts = tuple[dict[str, tuple[Mention, ...]], tuple[Mention, ...]]
_BRIEF_FACTS: dict[int, tuple[Brief, dict[str, tuple[Mention, ...]], tuple[Mention, ...]]] = {}


def brief_facts(brief: Brief) -> BriefFacts:
    """The brief's facts per attribute, and the numbers in its other text; parsed once per brief object
    (a brief is checked against many candidate messages)."""
    hit = _BRIEF_FACTS.get(id(brief))
    if hit is not None and hit[0] is brief:
        return hit[1], hit[2]
    by_attr = {key: _attribute_facts(value) for key, value in brief.attributes.items()}
    other = mentions(" \n ".join([brief.product, *brief.keywords, brief.offer or "", brief.cta or ""]))
    if len(_BRIEF_FACTS) > 4096:
        _BRIEF_FACTS.clear()
    _BRIEF_FACTS[id(brief)] = (brief, by_attr, other)
    return by_attr, other


# Period words: "$0 annual fee" and "$0 monthly fee" state different facts.
_PERIODS = (
    (
        "year",
        r"annual(?:ly)?|yearly|a year|per year|per annum|p\.a\.|/\s?y(?:ea)?r|годов[а-я]*|ежегодн[а-я]*"
        r"|(?:в|за) (?:первый |каждый |весь )?год",
    ),
    ("month", r"monthly|a month|per month|/\s?mo(?:nth)?|ежемесячн[а-я]*|(?:в|за) (?:первый |каждый )?месяц|/\s?мес"),
    ("week", r"weekly|a week|per week|еженедельн[а-я]*|в неделю"),
    ("day", r"daily|a day|per day|ежедневн[а-я]*|в день|за день|в сутки"),
)
_PERIOD_RE = re.compile("|".join(f"(?P<{name}>(?<![a-zа-яё])(?:{p})(?![a-zа-яё]))" for name, p in _PERIODS), re.I)
_KEY_PERIODS = (("year", ("annual", "year", "годов")), ("month", ("month", "месяч")), ("day", ("daily", "day")))


_CLAUSE_SPLIT_RE = re.compile(r"[.!?;,\n]")


def _period_near(text: str, start: int, end: int) -> str | None:
    """The period word nearest to a claim within its clause (a few words before or after), or None."""
    before = _CLAUSE_SPLIT_RE.split(text[max(0, start - 30) : start])[-1]
    after = _CLAUSE_SPLIT_RE.split(text[end : end + 30])[0]
    best: tuple[int, str] | None = None
    for chunk, distance in ((after, lambda m: m.start()), (before, lambda m: len(before) - m.end())):
        for m in _PERIOD_RE.finditer(chunk):
            d = distance(m)
            if best is None or d < best[0]:
                best = (d, m.lastgroup or "")
    return best[1] if best else None


def _attribute_period(key: str, value: object) -> str | None:
    if isinstance(value, str):
        found = _period_near(value, 0, 0) or _period_near(value, len(value), len(value))
        if found:
            return found
    low = key.lower()
    for period, stems in _KEY_PERIODS:
        if any(s in low for s in stems):
            return period
    return None


def analyse(text: str, brief: Brief, ignore: list[re.Pattern[str]]) -> FactsReport:
    report = FactsReport()
    by_attr, other = brief_facts(brief)
    ignored = [m.span() for pattern in ignore for m in pattern.finditer(text)]
    mentioned: set[str] = set()
    for claim in mentions(text):
        if any(s < claim.end and claim.start < e for s, e in ignored):
            continue
        agreeing = [key for key, facts in by_attr.items() if any(same_value(claim, f) for f in facts)]
        wrong_period = _wrong_period(text, claim, agreeing, brief)
        if wrong_period:
            report.mismatched.append((claim, wrong_period))
            mentioned.update(agreeing)
            continue
        if agreeing or any(same_value(claim, f) for f in other):
            mentioned.update(agreeing)
            if agreeing:
                report.agreed.append((claim, agreeing))
            continue
        rivals = [
            key for key, facts in by_attr.items() if claim.kind != "number" and any(f.kind == claim.kind for f in facts)
        ]
        if claim.kind != "number" and any(f.kind == claim.kind for f in other):
            rivals.append("offer")
        if not rivals and claim.kind == "number":  # "5 colours" where the brief says colours: 3
            rivals = _same_noun(text, claim, brief, by_attr)
        if not rivals and claim.kind not in (
            "number",
            "date",
            "time",
        ):  # the brief's value under another unit: "5 ₽" for "5%"
            rivals = [
                key
                for key, facts in by_attr.items()
                if any(f.kind not in ("number", "date", claim.kind) and raw_value(f) == raw_value(claim) for f in facts)
            ]
        if rivals:
            report.mismatched.append((claim, rivals))
        else:
            report.unsupported.append(claim)
    words = WORD_RE.findall(normalise(text))
    for key in brief.required_attributes:
        if key in mentioned:
            continue
        value = brief.attributes[key]
        if isinstance(value, bool):  # a yes/no attribute has no wording to look for
            continue
        if by_attr[key] or not _stem_mentioned(str(value), words):
            report.missing.append(key)
    return report


def _wrong_period(text: str, claim: Mention, agreeing: list[str], brief: Brief) -> list[str]:
    """The attributes a claim agrees with in value but not in period ("$0 monthly" for an annual fee)."""
    if not agreeing or claim.kind not in ("money", "percent", "term"):
        return []
    said = _period_near(text, claim.start, claim.end)
    if said is None:
        return []
    periods = {key: _attribute_period(key, brief.attributes[key]) for key in agreeing}
    if any(p is None or p == said for p in periods.values()):
        return []
    return agreeing


_NEXT_WORD_RE = re.compile(r"[\s\u00a0-]*([^\W\d_]+)")


def _same_noun(text: str, claim: Mention, brief: Brief, by_attr: dict[str, tuple[Mention, ...]]) -> list[str]:
    """Attributes a bare number speaks of by name: the word after it shares a stem with the attribute's
    key ("5 colours" against ``colours: 3``, "ages 12" against ``min_age: 13``)."""
    after = _NEXT_WORD_RE.match(text, claim.end)
    before = WORD_RE.findall(normalise(text[max(0, claim.start - 20) : claim.start]))
    words = [normalise(after.group(1))] if after else []
    words += before[-1:]
    if not words:
        return []
    found = []
    for key, facts in by_attr.items():
        if not any(f.kind == "number" for f in facts):
            continue
        parts = [p for p in re.split(r"[_\W]+", key.lower()) if len(p) >= 3]
        if any(len(w) >= 3 and w[: min(4, len(p))] == p[: min(4, len(w))] for w in words for p in parts):
            found.append(key)
    return found
