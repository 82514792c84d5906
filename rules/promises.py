"""Promises a regulated ad may not make, found by what the words do rather than by a phrase list: a
guarantee of anything ("guaranteed to work", "трудоустройство гарантировано", "гарантия результата"),
except the guarantees a shop may give: a warranty term, money back, a price or a delivery date. A custom
rule (``type: python``); the exceptions are the rule's ``options.unless`` patterns, looked for in the
guarantee's clause.
"""

from __future__ import annotations

import re
from functools import cache

from rules.text import clause_around

_GUARANTEE_RE = re.compile(
    r"(?<![\w-])(?:guarantee[ds]?|guaranteeing|гарантир[а-яё]*|гаранти(?:я|и|ю|ей|й|ям|ями|ях))(?![\w-])",
    re.IGNORECASE,
)
_SENTENCE_BREAK_RE = re.compile(r"[.!?;\n]")  # a comma does not end a guarantee's clause


@cache
def _unless(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None


_LAST_WORDS_RE = re.compile(r"(?:\S+\s+)?\S*\s*\Z")
_FIRST_WORDS_RE = re.compile(r"\s*(?:\S+\s+){0,2}\S*")


def guarantee_promises(text: str, brief: object, options: dict) -> list[tuple[int, int]]:
    """Spans of guarantees with none of ``options.unless`` in the two words before them or the three
    after, within their clause: "a 2-year guarantee" and "delivery guaranteed" pass; in "free delivery,
    and medicines guaranteed to work" the delivery is another promise."""
    low = text.lower()
    if "гарант" not in low and "guarant" not in low:  # the common case, two substring tests in C
        return []
    unless = _unless(tuple(options.get("unless", ())))
    found = []
    for m in _GUARANTEE_RE.finditer(text):
        before, after = clause_around(text, m.start(), m.end(), 40, _SENTENCE_BREAK_RE)
        # both regexes match any text (at worst the empty string), so there is always a group to take
        near = f"{_LAST_WORDS_RE.search(before).group(0)}\x00{_FIRST_WORDS_RE.match(after).group(0)}"  # type: ignore[union-attr]
        if unless is None or not unless.search(near):
            found.append(m.span())
    return found
