"""Text views the checks share: normalised text, words and their offsets, computed once per scope.

Normalisation is lower case, ``ё`` → ``е`` (Russian writers use both) and ``’`` → ``'``; it never
changes offsets.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from rules.brief import Brief, per_brief
from rules.model import Message

# A word is a run of letters not glued to digits: "COSY25" and "5GB" are a code and a size, not words.
WORD_RE = re.compile(r"(?<!\w)[^\W\d_]+(?:[-'’][^\W\d_]+)*(?!\w)")  # and "customer_name" is a slot's name
_ASCII_WORD_RE = re.compile(r"(?<![a-z0-9_])[a-z]+(?:[-'][a-z]+)*(?![a-z0-9_])")  # WORD_RE on normalised ASCII text
TOKEN_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")  # words and codes: "COSY25", "BITE10", "1ТБ"


def _in_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _inside_token(norm: str, start: int, end: int, size: int) -> bool:
    """Does a letter run found at [start, end) touch a letter, digit or underscore ("cosy" of "cosy25")?"""
    return (start > 0 and _in_word(norm[start - 1])) or (end < size and _in_word(norm[end]))


LATIN_RE = re.compile(r"[A-Za-z]")
CYRILLIC_RE = re.compile(r"[А-Яа-яЁё]")


def normalise(text: str) -> str:
    """Lower case, ``ё`` as ``е``; same length as the input, so offsets carry over."""
    low = text.lower()
    if len(low) != len(text):  # a few characters lower-case to two code points
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return low.replace("ё", "е").replace("’", "'")


def words_of(text: str) -> list[str]:
    """The normalised words of a text, in order; the same tokenisation the checks use."""
    return WORD_RE.findall(normalise(text))


class View:
    """One scope of one message. Words and offsets are computed only when a check asks for them."""

    __slots__ = ("_tokens", "_word_set", "_words", "norm", "offset", "text")

    def __init__(self, text: str, offset: int) -> None:
        self.text = text
        self.offset = offset
        self.norm = normalise(text)
        self._words: list[str] | None = None
        self._word_set: set[str] | None = None
        self._tokens: list[tuple[int, int]] | None = None

    @property
    def words(self) -> list[str]:
        if self._words is None:
            self._words = (_ASCII_WORD_RE if self.norm.isascii() else WORD_RE).findall(self.norm)
        return self._words

    @property
    def word_set(self) -> set[str]:
        if self._word_set is None:
            self._word_set = set(self.words)
        return self._word_set

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Absolute (start, end) of every word, aligned with ``words``."""
        if self._tokens is None:
            # Each word is found from where the one before it ended (str.find in C: cheaper than a second
            # regex pass); a find inside a code ("cosy" of "cosy25", a letter run touching a digit) is
            # not that word, so the search goes on past it.
            tokens = []
            norm = self.norm
            find, pos, off, size = norm.find, 0, self.offset, len(norm)
            for word in self.words:
                start = find(word, pos)
                end = start + len(word)
                # the common case inline: a space or a sign on both sides (see _inside_token)
                before = norm[start - 1] if start > 0 else " "
                after = norm[end] if end < size else " "
                if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
                    pos = end
                    tokens.append((start + off, end + off))
                    continue
                while start >= 0 and _inside_token(norm, start, end, size):
                    start = find(word, start + 1)
                    end = start + len(word)
                pos = end
                tokens.append((start + off, end + off))
            self._tokens = tokens
        return self._tokens


_QUOTED_RE = re.compile(r"«[^«»\n]{1,60}»|“[^“”\n]{1,60}”|„[^„“\n]{1,60}“|\"[^\"\n]{1,60}\"")
_QUOTE_MARK_RE = re.compile('[«“„"]')
_SENTENCE_RE = re.compile(r"[^\n.!?…]+[.!?…]*")
_CAPITALISED_RE = re.compile(r"(?<![\w'’-])[A-ZА-ЯЁ][a-zа-яё]+(?:[ -][A-ZА-ЯЁ][a-zа-яё]+)*")

_PRODUCT_WORDS: dict[int, tuple[Brief, frozenset[str]]] = {}
_PRODUCT_UNITS: dict[int, tuple[Brief, list[frozenset[str]]]] = {}


def _product_units(brief: Brief) -> list[frozenset[str]]:
    quoted = [m.group(0) for m in _QUOTED_RE.finditer(brief.product)]
    rest = _QUOTED_RE.sub(" ", brief.product)
    units = [frozenset(WORD_RE.findall(normalise(q))) for q in quoted]
    return units + [frozenset([w]) for w in WORD_RE.findall(normalise(rest))]


def _occurrences(norm: str, phrase: str) -> list[tuple[int, int]]:
    """Every (start, end) of ``phrase`` in the normalised text."""
    found, i = [], norm.find(phrase) if phrase else -1
    while i >= 0:
        found.append((i, i + len(phrase)))
        i = norm.find(phrase, i + 1)
    return found


def _sentence_names(sentence: str, base: int) -> list[tuple[int, int]]:
    """Capitalised words inside one sentence ("Open a Smart Saver account"), its first word excepted,
    unless the sentence is in title case (where capitals say nothing); offsets from ``base``."""
    words = WORD_RE.findall(sentence)
    if not words or (len(words) >= 3 and sum(w[0].isupper() for w in words) * 2 > len(words)):
        return []
    first = sentence.find(words[0])  # the first word is the first run of letters
    spans = []
    for m in _CAPITALISED_RE.finditer(sentence):
        start = m.start()
        if start == first:
            gap = m.group(0).find(" ")
            if gap < 0:
                continue
            start += gap + 1
        spans.append((base + start, base + m.end()))
    return spans


def _sentence_at(text: str, position: int) -> re.Match[str] | None:
    """The sentence (as ``_SENTENCE_RE.finditer`` cuts the text) holding the letter at ``position``: it
    begins after the last sentence stop before it."""
    begin = max(text.rfind(stop, 0, position) for stop in "\n.!?…") + 1
    return _SENTENCE_RE.match(text, begin)


CLAUSE_BREAK_RE = re.compile(r"[.!?;,\n]")


def clause_around(
    text: str, start: int, end: int, reach: int = 30, breaks: re.Pattern[str] = CLAUSE_BREAK_RE
) -> tuple[str, str]:
    """The text of the clause around ``[start, end)``, up to ``reach`` characters on each side: what
    stands before the span and what follows it, each cut at the nearest of ``breaks``."""
    before = breaks.split(text[max(0, start - reach) : start])[-1]
    after = breaks.split(text[end : end + reach])[0]
    return before, after


def _opens_sentence(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in ' \t\u00a0«"“„(':
        i -= 1
    return i < 0 or text[i] in ".!?…\n"


class Context:
    """Everything a check may look at for one message: its scopes, the brief, channel and language."""

    __slots__ = ("_views", "brief", "cache", "channel", "language", "message", "names", "terms", "text", "text_view")

    def __init__(
        self,
        message: Message,
        brief: Brief | None,
        language: str,
        channel: str | None,
        names: tuple[str, ...] = ("brief",),
        terms: tuple[str, ...] = (),
    ) -> None:
        self.message = message
        self.names = names
        self.terms = terms
        self.text = message.text
        self.text_view = View(self.text, 0)
        self.brief = brief
        self.language = brief.language if brief is not None else language
        self.channel = channel or message.channel or (brief.channel if brief is not None else None)
        self._views: dict[str, View | None] = {"text": self.text_view}
        self.cache: dict[object, Any] = {}

    @property
    def brief_capitals(self) -> frozenset[str]:
        """Words the brief itself writes in capitals (brands, codes: "ASUS", "VOLTA"), normalised."""
        found = self.cache.get("brief_capitals")
        if found is None:
            found = frozenset()
            if self.brief is not None:
                b = self.brief
                parts = [b.product, *b.keywords, *(str(v) for v in b.attributes.values()), b.offer or "", b.cta or ""]
                found = frozenset(normalise(w) for w in WORD_RE.findall(" ".join(parts)) if len(w) > 1 and w.isupper())
            self.cache["brief_capitals"] = found
        return found

    def inside_name(self, start: int, end: int) -> bool:
        """Is [start, end) inside a name? Names are the brief's product name where the text quotes it,
        quoted text («Надёжный старт») and capitalised words inside a sentence ("a Smart Saver account"),
        as the pack's ``names`` says: "Вклад «Максимальный доход»" is not an abstract claim."""
        spans = self.cache.get("names")
        if spans is None:
            spans = self.cache["names"] = self._name_spans()
        if any(s <= start and end <= e for s, e in spans):
            return True
        if "capitalised" not in self.names or not self.text[start : start + 1].isupper():
            return False  # a capitalised name starts with a capital
        if _opens_sentence(self.text, start):  # capitalised by grammar; a name only if the brief's product
            if self.brief is None:
                return False
            run = _CAPITALISED_RE.match(self.text, start)
            if run is None or end > run.end():
                return False
            said = WORD_RE.findall(normalise(run.group(0)))
            return any(set(said) <= unit and (len(said) > 1 or len(unit) == 1) for unit in self._product_units())
        sentence = _sentence_at(self.text, start)  # only the sentence the span starts in is looked at
        if sentence is None:
            return False
        key = ("capitalised", sentence.start())
        capitalised = self.cache.get(key)
        if capitalised is None:
            capitalised = self.cache[key] = _sentence_names(sentence.group(0), sentence.start())
        if any(s <= start and end <= e for s, e in capitalised):
            return True
        return self.brief is not None and any(s <= start and end <= e for s, e in self._product_runs())

    @property
    def product_words(self) -> frozenset[str]:
        """The normalised words of the brief's product name (none without a brief)."""
        if self.brief is None:
            return frozenset()
        return per_brief(_PRODUCT_WORDS, self.brief, lambda b: frozenset(WORD_RE.findall(normalise(b.product))))

    def in_product_name(self, start: int, end: int) -> bool:
        """Is [start, end) inside the brief's product name, or a run of two or more of its words?"""
        return any(s <= start and end <= e for s, e in self._product_spans())

    def _product_spans(self) -> list[tuple[int, int]]:
        spans = self.cache.get("product_spans")
        if spans is None:
            spans = self.cache["product_spans"] = []
            if self.brief is not None:
                name = normalise(self.brief.product)
                spans.extend(_occurrences(self.text_view.norm, name))
                spans.extend(self._name_parts(name))
        return spans

    def _product_units(self) -> list[frozenset[str]]:
        """The names the brief's product is made of: each quoted name («Надёжный год») and each word
        outside quotes. One word of a longer quoted name opening a sentence ("Надёжный вклад…") is that
        word, not the name."""
        return [] if self.brief is None else per_brief(_PRODUCT_UNITS, self.brief, _product_units)

    def _name_parts(self, name: str) -> list[tuple[int, int]]:
        """Two or more words in a row that stand in a row in the product's name too: "with easy access"
        for the brief's "Smart Saver easy access account" (a part of the name, not a claim)."""
        name_words = WORD_RE.findall(name)
        pairs = set(itertools.pairwise(name_words))
        if not pairs:
            return []
        view = self.text_view
        words = view.words
        found: list[tuple[int, int]] = []
        text = self.text
        for i in range(len(words) - 1):
            if (words[i], words[i + 1]) in pairs and not text[view.spans[i][1] : view.spans[i + 1][0]].strip(" -"):
                start, end = view.spans[i][0], view.spans[i + 1][1]  # two words with nothing but a space between
                if found and found[-1][1] >= view.spans[i][0]:  # continues the run before it
                    start = found.pop()[0]
                found.append((start, end))
        return found

    def _product_runs(self) -> list[tuple[int, int]]:
        """Capitalised runs made of the brief's product words ("Easy Grow seedlings" of "Easy Grow"),
        at a sentence start too."""
        runs = self.cache.get("product_runs")
        if runs is None:
            product = set(WORD_RE.findall(normalise(self.brief.product))) if self.brief is not None else set()
            runs = self.cache["product_runs"] = [
                m.span()
                for m in _CAPITALISED_RE.finditer(self.text)
                if set(WORD_RE.findall(normalise(m.group(0)))) <= product
            ]
        return runs

    def _name_spans(self) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        if self.brief is not None and "brief" in self.names:
            spans.extend(self._product_spans())
        if "quoted" in self.names and _QUOTE_MARK_RE.search(self.text) is not None:
            spans.extend(m.span() for m in _QUOTED_RE.finditer(self.text))
        for term in self.terms:  # the trade's fixed terms: "easy access" savings are no claim
            spans.extend(_occurrences(self.text_view.norm, term))
        return spans

    def may_contain(self, strings: tuple[str, ...] | None) -> bool:
        """False only when none of ``strings`` occurs in the text, so a regex needing one cannot match
        (see rules.prefilter)."""
        if strings is None:
            return True
        norm = self.text_view.norm
        for s in strings:  # noqa: SIM110 (a plain loop: cheaper than any() over a generator)
            if s in norm:
                return True
        return False

    def view(self, scope: str) -> View | None:
        try:
            return self._views[scope]
        except KeyError:
            pass
        span = self.message.span_of(scope)
        view = None if span is None else View(self.text[span[0] : span[1]], span[0])
        self._views[scope] = view
        return view
