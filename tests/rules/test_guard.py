"""First-character guards (rules.prefilter.guarded): the same matches, spans and groups as the regex
they guard, on texts built to hit the edges (lookbehinds, alternatives, case folding)."""

from __future__ import annotations

import random
import re

import pytest

from rules import numbers
from rules.prefilter import guarded

PATTERNS = [
    (numbers._MAIN_SOURCE, re.IGNORECASE),
    (numbers._UNIT_WORD_RE.pattern, re.IGNORECASE),
    (r"(?<=\S)[ \t]+[,.!?:;](?!\d)", 0),
    (r"(?<![\w\-\[{%<])[A-ZА-ЯЁ]{3,}(?![\w\-\]}%>])", 0),
    (r"(?:\A|(?<=\n)|(?<=[.!?…] ))[а-яёa-z](?![A-ZА-ЯЁ])", 0),
    (r"(?<![a-z])(?:sep|ſep|kelvin)\s?\d", re.IGNORECASE),
    (r"(?:[!?]{2,})|(?:\.{4,})|(?:,{2,})|(?:\?!|!\?)", re.IGNORECASE),  # an alternation ignoring case
    (r"(?:руб)|(?:sep \d)|(?:kelvin)", re.IGNORECASE),
]
ALPHABET = "0123456789 .,:;-%$€₽\n!?…абвгмаяМАЯ Sep SEP ſep Kelvin KELVIN руб дней лет процентов five years"


def _texts(n: int = 4000) -> list[str]:
    rng = random.Random(5)
    pieces = ALPHABET.split(" ") + list(ALPHABET)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(n)]


@pytest.mark.parametrize(("source", "flags"), PATTERNS)
def test_a_guarded_regex_finds_exactly_what_the_regex_finds(source, flags):
    plain = re.compile(source, flags)
    fast = guarded(plain)
    assert fast is not plain and fast.pattern.startswith("(?=[")
    for text in _texts():
        want = [(m.span(), m.groupdict(), m.groups()) for m in plain.finditer(text)]
        assert [(m.span(), m.groupdict(), m.groups()) for m in fast.finditer(text)] == want, text


@pytest.mark.parametrize("source", ["abc", r"[!?]{2,}", r"\{\{[^{}]*\}\}|\[[A-Z]+\]", r"(?<!\w)\w+", r"(?<=x)(?:a|)"])
def test_no_guard_where_the_engine_already_searches_fast_or_any_start_is_possible(source):
    # a case-sensitive alternation of literals and sets is scanned for by the engine itself
    plain = re.compile(source)
    assert guarded(plain) is plain
