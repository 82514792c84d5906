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


def guarantee_promises(text: str, brief: object, options: dict) -> list[tuple[int, int]]:
    """Spans of guarantees whose clause (up to 40 characters either side) holds none of ``options.unless``."""
    low = text.lower()
    if "гарант" not in low and "guarant" not in low:  # the common case, two substring tests in C
        return []
    unless = _unless(tuple(options.get("unless", ())))
    found = []
    for m in _GUARANTEE_RE.finditer(text):
        before, after = clause_around(text, m.start(), m.end(), 40, _SENTENCE_BREAK_RE)
        if unless is None or not unless.search(f"{before}\x00{after}"):
            found.append(m.span())
    return found
