"""Phrase patterns: one pattern per meaning, matched on inflected forms instead of fixed strings.

A pattern is words separated by spaces. Each word matches every inflected form of itself (Russian
through pymorphy3, English through regular inflections), so "деньги работать на вы" also finds "ваши
деньги работают на вас" once the optional words are marked:

- ``a|b|c``   any of the alternatives;
- ``word?``   optional (also ``a|b?``);
- ``*``       exactly one word of any kind; ``*3`` up to three words;
- ``=word``   this form only, not its inflections.

Matching walks the message's normalised words from every position where the pattern's first word
occurs; a message without that word is rejected by one set test.
"""

from __future__ import annotations

from dataclasses import dataclass

from mypy_extensions import mypyc_attr

from rules.lexicon import anchor_key
from rules.morph import forms_of
from rules.text import WORD_RE, View, normalise


@dataclass(frozen=True, slots=True)
class Slot:
    forms: frozenset[str] | None  # None: any word
    low: int  # how many times it must occur (0 or 1; 0 for ``?`` and wildcards with a bound)
    high: int

    def __reduce__(self) -> tuple:  # pickled by its fields (a frozen value is rebuilt, not set)
        return (Slot, (self.forms, self.low, self.high))


@dataclass(frozen=True, slots=True)
class Pattern:
    source: str
    slots: tuple[Slot, ...]

    def __reduce__(self) -> tuple:  # pickled by its fields (a frozen value is rebuilt, not set)
        return (Pattern, (self.source, self.slots))


def _forms(alternative: str, inflect: bool, language: str) -> frozenset[str]:
    exact = alternative.startswith("=")
    words = WORD_RE.findall(normalise(alternative.lstrip("=")))
    if len(words) != 1:
        raise ValueError(f"{alternative!r} must be one word")
    word = words[0]
    return frozenset({word}) if exact or not inflect else forms_of(word, language)


def compile_pattern(source: str, inflect: bool, language: str) -> Pattern:
    """Parse one pattern; ValueError names what is wrong with it."""
    slots: list[Slot] = []
    for token in source.split():
        if token.startswith("*"):
            bound = token[1:]
            if bound and not bound.isdigit():
                raise ValueError(f"{token!r}: a wildcard is `*` or `*N`")
            slots.append(Slot(None, 0 if bound else 1, int(bound) if bound else 1))
            continue
        optional = token.endswith("?")
        alternatives = token.rstrip("?").split("|")
        forms: set[str] = set()
        for alternative in alternatives:
            forms |= _forms(alternative, inflect, language)
        slots.append(Slot(frozenset(forms), 0 if optional else 1, 1))
    if not slots or slots[0].forms is None or slots[0].low == 0:
        raise ValueError(f"pattern {source!r} must start with a required word")
    return Pattern(source, tuple(slots))


def _match(slots: tuple[Slot, ...], words: list[str], at: int) -> int | None:
    """The end (exclusive word index) of the longest match of ``slots`` starting at ``at``, or None."""
    if not slots:
        return at
    slot, rest = slots[0], slots[1:]
    best: int | None = None
    # try the longest run first: the most words this slot may take, down to its minimum
    taken = 0
    positions = [at]
    while taken < slot.high and at + taken < len(words):
        word = words[at + taken]
        if slot.forms is not None and word not in slot.forms:
            break
        taken += 1
        positions.append(at + taken)
    for end in reversed(positions[slot.low :]):
        found = _match(rest, words, end)
        if found is not None and (best is None or found > best):
            best = found
    return best


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class PhraseSet:
    """Compiled patterns with an index by first word."""

    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        self.first_forms = frozenset(f for p in patterns for f in p.slots[0].forms or ())
        # every required word of a pattern must occur before it is walked
        self._required = [tuple(s.forms for s in p.slots if s.low and s.forms is not None) for p in patterns]
        # each pattern is indexed by its rarest-looking required word (the longest): a message without
        # one of those skips the set (one set test, in C) however common the patterns' first words are
        self._by_anchor: dict[str, list[int]] = {}
        for i, required in enumerate(self._required):
            anchor = max(required, key=anchor_key)
            for form in anchor:
                self._by_anchor.setdefault(form, []).append(i)
        self._anchors = frozenset(self._by_anchor)

    @classmethod
    def build(cls, sources: list[str], inflect: bool, language: str) -> PhraseSet:
        return cls([compile_pattern(s, inflect, language) for s in sources])

    def find(self, view: View) -> list[tuple[int, int, Pattern]]:
        """Non-overlapping matches as absolute (start, end, pattern), earliest and longest first."""
        word_set = view.word_set
        hits = self._anchors.intersection(word_set)
        if not hits:
            return []
        indices = sorted({i for form in hits for i in self._by_anchor[form]})
        live = [self.patterns[i] for i in indices if all(not f.isdisjoint(word_set) for f in self._required[i])]
        if not live:
            return []
        words, spans = view.words, view.spans
        found: list[tuple[int, int, Pattern]] = []
        i = 0
        while i < len(words):
            best: tuple[int, Pattern] | None = None
            if words[i] in self.first_forms:
                for pattern in live:
                    if words[i] not in (pattern.slots[0].forms or ()):
                        continue
                    end = _match(pattern.slots, words, i)
                    if end is not None and (best is None or end > best[0]):
                        best = (end, pattern)
            if best is None:
                i += 1
                continue
            found.append((spans[i][0], spans[best[0] - 1][1], best[1]))
            i = best[0]
        return found
