"""A compiled lexicon: phrases matched word by word against pre-expanded inflected forms.

Each phrase becomes a tuple of form sets, one per word. An index from every form a phrase can start
with lets a message with no candidate word be rejected by one set operation, in C; only messages
that share a word with the lexicon are walked word by word.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mypy_extensions import mypyc_attr

from rules.grammar import ENGLISH_FUNCTION_WORDS
from rules.morph import forms_of
from rules.text import WORD_RE, View, normalise


@dataclass(frozen=True, slots=True)
class Phrase:
    source: str
    forms: tuple[frozenset[str], ...]
    suggestion: str | None = None
    owner: int = 0  # which of several merged lexicons the phrase came from

    def __reduce__(self) -> tuple:  # pickled by its fields (a frozen value is rebuilt, not set)
        return (Phrase, (self.source, self.forms, self.suggestion, self.owner))


# Words too common in ads to index a phrase by: function words and the trade's everyday words ("hot
# price" is looked for where "hot" stands, "your ticket to" where "ticket" does).
_RUSSIAN_COMMON = (
    "и в во на с со к ко по о об от до за из у для без при под над не ни но а или как что это все всё вы ваш "
    "ваша ваше ваши вас вам мы нас нам наш я ты он она они его её их свой своя свои так уже ещё только "
    "скидка скидки скидку скидкой цена цены месяц год день карта карту приложение приложении сегодня"
)
_TRADE_COMMON = "price prices offer offers deal deals month week year day free get new save shop order app card online"
COMMON_WORDS = ENGLISH_FUNCTION_WORDS | frozenset(_RUSSIAN_COMMON.split()) | frozenset(_TRADE_COMMON.split())


def anchor_key(forms: frozenset[str]) -> tuple[bool, int]:
    """How good a word is to index a phrase or pattern by: uncommon first, then long, so "не упустите
    шанс" is not looked at for every "не" of every message, nor "this month only" for every "month"."""
    return forms.isdisjoint(COMMON_WORDS), min(map(len, forms))


def _anchor(phrase: Phrase) -> int:
    """The index of the word a phrase is indexed by (see anchor_key)."""
    keys = [anchor_key(forms) for forms in phrase.forms]
    return keys.index(max(keys))


# an index entry: (phrase, its anchor word, its length, its other words as (offset from the anchor, forms))
_Entry = tuple[int, int, int, tuple[tuple[int, frozenset[str]], ...]]


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Lexicon:
    def __init__(self, phrases: list[Phrase]) -> None:
        self.phrases = phrases
        index: dict[str, list[_Entry]] = {}
        for i, phrase in enumerate(phrases):
            anchor = _anchor(phrase)
            others = tuple((k - anchor, forms) for k, forms in enumerate(phrase.forms) if k != anchor)
            entry = (i, anchor, len(phrase.forms), others)
            for form in phrase.forms[anchor]:
                index.setdefault(form, []).append(entry)
        self.index = index
        self.first_forms = frozenset(index)
        self.single = frozenset(f for p in phrases if len(p.forms) == 1 for f in p.forms[0])

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
        if first_only:
            return self._first(view, hits)
        words = view.words
        phrases = self.phrases
        candidates: list[tuple[int, int, int, int]] = []  # (first word, -length, anchor word, phrase index)
        for word in hits:  # only where a hit word stands (found by list scans in C), not at every word
            entries = self.index[word]
            i = -1
            for _ in range(words.count(word)):
                i = words.index(word, i + 1)
                for entry in entries:
                    start = self._start_at(words, i, entry)
                    if start is not None:
                        candidates.append((start, -entry[2], i, entry[0]))
        if not candidates:
            return []
        candidates.sort()  # the order a walk word by word would find them in, for equal spans too
        spans = view.spans
        found: list[tuple[int, int, Phrase]] = []
        taken: dict[int, int] = {}  # per owner: the last word already covered by a match
        for start, neg_n, _, idx in candidates:
            phrase = phrases[idx]
            if start <= taken.get(phrase.owner, -1):
                continue
            last = start - neg_n - 1
            found.append((spans[start][0], spans[last][1], phrase))
            taken[phrase.owner] = last
        return found

    @staticmethod
    def _start_at(words: list[str], i: int, entry: _Entry) -> int | None:
        """Where an index entry's phrase, anchored on ``words[i]``, starts, if it matches there."""
        _, anchor, n, others = entry
        start = i - anchor
        if start < 0 or start + n > len(words):
            return None
        if all(words[i + k] in forms for k, forms in others):
            return start
        return None

    def _first(self, view: View, hits: set[str]) -> list[tuple[int, int, Phrase]]:
        """The match at the first word that anchors one (as one-element list), or []."""
        words = view.words
        for i, word in enumerate(words):
            if word not in hits:
                continue
            for entry in self.index[word]:
                start = self._start_at(words, i, entry)
                if start is not None:
                    phrase = self.phrases[entry[0]]
                    spans = view.spans
                    return [(spans[start][0], spans[start + len(phrase.forms) - 1][1], phrase)]
        return []
