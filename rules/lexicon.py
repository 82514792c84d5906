"""A compiled lexicon: phrases matched word by word against pre-expanded inflected forms.

Each phrase becomes a tuple of form sets, one per word. An index from every form a phrase can start
with lets a message with no candidate word be rejected by one set operation, in C; only messages
that share a word with the lexicon are walked word by word.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product

from rules.morph import forms_of
from rules.text import WORD_RE, View, normalise


@dataclass(frozen=True, slots=True)
class Phrase:
    source: str
    forms: tuple[frozenset[str], ...]
    suggestion: str | None = None
    owner: int = 0  # which of several merged lexicons the phrase came from


def _anchor(phrase: Phrase) -> int:
    """The word a phrase is indexed by: its longest, so "не упустите шанс" is not looked at for
    every "не" of every message."""
    lengths = [min(map(len, forms)) for forms in phrase.forms]
    return lengths.index(max(lengths))


class Lexicon:
    def __init__(self, phrases: list[Phrase]) -> None:
        self.phrases = phrases
        index: dict[str, list[tuple[int, int]]] = {}
        self._anchors = [_anchor(p) for p in phrases]
        for i, phrase in enumerate(phrases):
            anchor = self._anchors[i]
            for form in phrase.forms[anchor]:
                index.setdefault(form, []).append((i, anchor))
        self.index = index
        self.first_forms = frozenset(index)
        self.single = frozenset(f for p in phrases if len(p.forms) == 1 for f in p.forms[0])
        self._automaton = None
        self._keys: list[tuple[int, tuple[int, ...]]] = []

    def build_automaton(self) -> None:
        """One Aho–Corasick automaton over every inflected form of every phrase (as words between
        spaces), so all phrases are found in one C-level pass over the message's words."""
        import ahocorasick

        owners: dict[str, list[int]] = {}
        for i, phrase in enumerate(self.phrases):
            for words in product(*(sorted(forms) for forms in phrase.forms)):
                owners.setdefault(" " + " ".join(words) + " ", []).append(i)
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self._keys = []
        for key, found in owners.items():
            automaton.add_word(key, len(self._keys))
            self._keys.append((len(key), tuple(found)))
        automaton.make_automaton()
        self._automaton = automaton

    @classmethod
    def build(cls, entries: list[tuple[str, str | None, bool]], language: str) -> Lexicon:
        """entries: (phrase, suggestion, inflect). Raises ValueError for a phrase with no words."""
        phrases = []
        for text, suggestion, inflect in entries:
            words = WORD_RE.findall(normalise(text))
            if not words:
                raise ValueError(f"lexicon entry {text!r} has no words; use a pattern rule for it")
            forms = tuple(forms_of(w, language) if inflect else frozenset({w}) for w in words)
            phrases.append(Phrase(text, forms, suggestion))
        return cls(phrases)

    @classmethod
    def merge(cls, lexicons: list[Lexicon]) -> Lexicon:
        """One lexicon answering for several (one lookup per message); ``Phrase.owner`` tells them apart."""
        return cls([replace(p, owner=i) for i, lex in enumerate(lexicons) for p in lex.phrases])

    def contains(self, view: View) -> bool:
        """Does any phrase occur? One-word phrases answer from the word set alone."""
        hits = view.word_set.intersection(self.first_forms)
        if not hits:
            return False
        if not self.single.isdisjoint(hits):
            return True
        return bool(self.find(view, first_only=True))

    def find(self, view: View, first_only: bool = False) -> list[tuple[int, int, Phrase]]:
        """Non-overlapping matches as absolute (start, end, phrase), longest first where they overlap."""
        hits = view.word_set.intersection(self.first_forms)
        if not hits:
            return []
        if self._automaton is not None and not first_only:
            return self._choose(self._candidates(view.words), view)
        words = view.words
        n_words = len(words)
        candidates: list[tuple[int, int, Phrase]] = []  # (first word, -length, phrase)
        for i, word in enumerate(words):
            if word not in hits:
                continue
            for idx, anchor in self.index[word]:
                phrase = self.phrases[idx]
                start, n = i - anchor, len(phrase.forms)
                if start < 0 or start + n > n_words:
                    continue
                if all(words[start + k] in phrase.forms[k] for k in range(n) if k != anchor):
                    candidates.append((start, -n, phrase))
                    if first_only:
                        break
            if first_only and candidates:
                break
        if not candidates:
            return []
        candidates.sort(key=lambda c: (c[0], c[1]))
        return self._choose(candidates, view)

    def _candidates(self, words: list[str]) -> list[tuple[int, int, Phrase]]:
        """Every phrase occurrence, ordered as the word-by-word walk finds them: by first word, longest
        first, then by the position of the phrase's anchor word and the phrase's order in the pack."""
        joined = " " + " ".join(words) + " "
        found = []
        keys, phrases, anchors = self._keys, self.phrases, self._anchors
        for end, value in self._automaton.iter(joined):  # type: ignore[union-attr]
            length, owners = keys[value]
            start = joined.count(" ", 0, end - length + 2) - 1  # words before the match
            for i in owners:
                phrase = phrases[i]
                n = len(phrase.forms)
                found.append((start, -n, start + anchors[i], i, phrase))
        if not found:
            return []
        found.sort(key=lambda c: c[:4])
        return [(start, neg_n, phrase) for start, neg_n, _, _, phrase in found]

    def _choose(self, candidates: list[tuple[int, int, Phrase]], view: View) -> list[tuple[int, int, Phrase]]:
        """Non-overlapping matches per owner, earliest and longest first, as absolute offsets."""
        if not candidates:
            return []
        spans = view.spans
        found: list[tuple[int, int, Phrase]] = []
        taken: dict[int, int] = {}  # per owner: the last word already covered by a match
        for start, neg_n, phrase in candidates:
            if start <= taken.get(phrase.owner, -1):
                continue
            last = start - neg_n - 1
            found.append((spans[start][0], spans[last][1], phrase))
            taken[phrase.owner] = last
        return found
