"""Cheap prefilters for regexes: strings of which every match must contain one.

If each match of a pattern must contain one of a few short strings ("!" or "?" for "[!?]{2,}", "ш" for
"...(?:ейш|айш)...", two spaces for " {2,}"), a message without any of them is skipped with C-level
``in`` tests on its normalised text instead of a regex scan. Derived from the parsed pattern; None
when no such small set exists. Strings are normalised like the text (lower case, ё → е), which keeps
the test a necessary condition whatever the pattern's case flags.
"""

from __future__ import annotations

import re
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]

from rules.text import normalise

# Letters from most to least frequent; a rarer letter makes a better prefilter.
_FREQUENT = "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё" + "etaoinshrdlcumwfgypbvkjxqz"
_MAX_STRINGS = 8


def _char_cost(c: str) -> float:
    i = _FREQUENT.find(c)
    if i >= 0:
        return 40.0 - i % 34
    if c.isspace():
        return 100.0
    if c.isdigit():
        return 8.0
    return 15.0 if c in ".," else 1.0


def _cost(strings: frozenset[str]) -> float:
    return sum(min(_char_cost(c) for c in s) / len(s) for s in strings)


def _required(items: P.SubPattern | list) -> frozenset[str] | None:
    """The best set of strings one of which every match of this sequence contains."""
    candidates: list[frozenset[str]] = []
    run = ""
    for op, arg in items:
        if op is C.LITERAL:
            run += chr(arg)
            continue
        if run:
            candidates.append(frozenset({run}))
            run = ""
        if op is C.IN:
            chars = [chr(a) for o, a in arg if o is C.LITERAL]
            if len(chars) == len(arg):
                candidates.append(frozenset(chars))
        elif op is C.SUBPATTERN:
            candidates.append(_required(arg[-1]) or frozenset())
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and arg[0] >= 1:
            body = list(arg[2])
            if len(body) == 1 and body[0][0] is C.LITERAL:
                candidates.append(frozenset({chr(body[0][1]) * min(arg[0], 4)}))
            else:
                candidates.append(_required(body) or frozenset())
        elif op is C.BRANCH:
            sets = [_required(alt) for alt in arg[1]]
            if all(sets):
                candidates.append(frozenset().union(*sets))  # type: ignore[arg-type]
    if run:
        candidates.append(frozenset({run}))
    usable = [c for c in candidates if c and len(c) <= _MAX_STRINGS]
    return min(usable, key=_cost) if usable else None


def required_strings(pattern: str | re.Pattern[str]) -> tuple[str, ...] | None:
    """Normalised strings one of which occurs in the normalised text of every match; None if unknown."""
    source, flags = (pattern.pattern, pattern.flags) if isinstance(pattern, re.Pattern) else (pattern, 0)
    try:
        parsed = P.parse(source, flags)
    except re.error:
        return None
    found = _required(parsed)
    if found is None:
        return None
    normalised = {normalise(s) for s in found}
    if any(len(normalise(s)) != len(s) for s in found):
        return None
    return tuple(sorted(normalised))


# --- first-character guards -----------------------------------------------------------------------

_ZERO_WIDTH = (C.AT, C.ASSERT, C.ASSERT_NOT)
_CATEGORIES = {C.CATEGORY_DIGIT: r"\d", C.CATEGORY_SPACE: r"\s"}  # narrow enough to be worth a guard
_Chars = set[str]  # parts of a character class: the characters a match may start with


def _first_of_item(op: object, arg: object) -> tuple[_Chars | None, bool]:
    """(the characters one item may start with, whether it may match empty); None: unknown or any."""
    if op in _ZERO_WIDTH:
        return set(), True
    if op is C.LITERAL:
        return {re.escape(chr(arg))}, False  # type: ignore[arg-type]
    if op is C.IN:
        chars: _Chars = set()
        for o, a in arg:  # type: ignore[attr-defined]
            if o is C.LITERAL:
                chars.add(re.escape(chr(a)))
            elif o is C.RANGE:
                chars.add(f"{re.escape(chr(a[0]))}-{re.escape(chr(a[1]))}")
            elif o is C.CATEGORY and a in _CATEGORIES:
                chars.add(_CATEGORIES[a])
            else:  # a negated set, a broad category: not worth a guard
                return None, False
        return chars, False
    if op is C.SUBPATTERN:
        return _first_of_sequence(arg[-1])  # type: ignore[index]
    if op is C.BRANCH:
        found: _Chars = set()
        empty = False
        for alternative in arg[1]:  # type: ignore[index]
            chars_, nullable = _first_of_sequence(alternative)
            if chars_ is None:
                return None, False
            found |= chars_
            empty = empty or nullable
        return found, empty
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        chars_, nullable = _first_of_sequence(arg[2])  # type: ignore[index]
        return chars_, nullable or arg[0] == 0  # type: ignore[index]
    if op is C.ATOMIC_GROUP:
        return _first_of_sequence(arg)  # type: ignore[arg-type]
    return None, False


def _first_of_sequence(items: P.SubPattern | list) -> tuple[_Chars | None, bool]:
    found: _Chars = set()
    for op, arg in items:
        chars, nullable = _first_of_item(op, arg)
        if chars is None:
            return None, False
        found |= chars
        if not nullable:
            return found, False
    return found, True


def _opens_slowly(items: P.SubPattern | list, ignorecase: bool) -> bool:
    """Does a match attempt start with a lookaround or an anchor, or (ignoring case) an alternation? The
    regex engine then tries every position of the text; a pattern opening with a literal, a character
    set or a case-sensitive alternation of those it scans for by itself."""
    if not items:
        return False
    op, arg = items[0]
    if op in _ZERO_WIDTH:
        return True
    if op is C.SUBPATTERN:
        return _opens_slowly(arg[-1], ignorecase)
    if op is C.BRANCH:
        return ignorecase or any(_opens_slowly(alternative, ignorecase) for alternative in arg[1])
    return False


def guarded(regex: re.Pattern[str]) -> re.Pattern[str]:
    """The same regex, prefixed with a lookahead for the characters a match can start with, where a
    match attempt opens with a lookbehind, an anchor or an alternation that ignores case (tried at every
    position of the text; a pattern opening with a literal or a character set is searched for by the
    regex engine itself). Matches,
    groups and spans are unchanged: the guard only rejects, with one set test, positions where no
    match can start."""
    try:
        parsed = P.parse(regex.pattern, regex.flags)
    except re.error:
        return regex
    if not _opens_slowly(list(parsed), bool(regex.flags & re.IGNORECASE)):
        return regex
    chars, nullable = _first_of_sequence(parsed)
    if chars is None or nullable or not chars:
        return regex
    try:
        return re.compile(f"(?=[{''.join(sorted(chars))}])(?:{regex.pattern})", regex.flags)
    except re.error:  # e.g. global flags that must open the pattern
        return regex
