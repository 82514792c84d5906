"""Grammar the rules lean on instead of word lists: calls to action by mood, acronyms versus shouting,
SMS segments by encoding.

Russian uses pymorphy3's tags (``impr`` for the imperative, ``INFN`` for the infinitive, ``Abbr`` for
abbreviations). English uses lemminflect's dictionary (shipped inside its wheel): an imperative is a
clause-initial word whose verb lemma is the word itself. Both are imported lazily and every lookup is
cached, so a pack that never asks pays nothing and a long run pays once per distinct word.
"""

from __future__ import annotations

import re
from functools import cache

from rules.morph import _analyzer

_WORD_RE = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
# Words that may stand before the imperative in its clause ("Just add to cart", "Now open in 5 cities").
_LEAD_WORDS = frozenset(
    "and or then just simply now please today so also even still "
    "и а или но теперь просто сегодня скорее лучше уже тоже также ещё еще".split()
)
_SUBJECT_WORDS = frozenset({"вы", "ты", "you", "we", "мы"})
# Words after which an infinitive is a call to action: "можно открыть онлайн", "стоит попробовать".
_MODAL_WORDS = frozenset({"можно", "стоит", "пора", "успейте", "поспешите", "предлагаем", "приглашаем"})
_EMOJI_BREAK = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]"


@cache
def _russian_moods(word: str) -> tuple[bool, bool]:
    """(can be an imperative, is an infinitive) for one lower-case Russian word."""
    imperative = infinitive = False
    for parse in _analyzer().parse(word):
        if parse.score < 0.05:
            continue
        tag = parse.tag
        if "impr" in tag:
            imperative = True
        if tag.POS == "INFN":
            infinitive = True
    return imperative, infinitive


@cache
def english_base_verb(word: str) -> bool:
    """Is ``word`` (lower case) the base form of an English verb?"""
    import lemminflect

    lemmas = lemminflect.getAllLemmas(word, upos="VERB").get("VERB", ())
    if word in lemmas:
        return True
    if "-" in word:  # "pre-order", "top-up", "check-in"
        head = word.split("-")[0]
        return head in lemminflect.getAllLemmas(head, upos="VERB").get("VERB", ()) or word.startswith(("pre-", "re-"))
    return False


def _clauses(text: str) -> list[tuple[str, bool]]:
    """The text's clauses, each with whether its sentence is a question."""
    out: list[tuple[str, bool]] = []
    sentences = re.split(rf"(?<=[.!?…])\s+|\n|{_EMOJI_BREAK}+", text)
    for sentence in sentences:
        question = sentence.rstrip().endswith("?")
        for clause in re.split(r"[:;,]|\s[—–-]\s", sentence):
            if clause.strip():
                out.append((clause, question))
    return out


def call_to_action(
    text: str, language: str, forms: frozenset[str] = frozenset(), not_imperative: frozenset[str] = frozenset()
) -> tuple[int, int] | None:
    """Where the first call to action of ``text`` is, judged by grammar, or None.

    A call to action is an imperative (not in a question, not after "вы"/"you"), or, for Russian, an
    infinitive opening a clause ("Рассчитать", "Оформить карту"); for English, a base-form verb opening
    a clause ("Find your size online", "Reorder in the app"). ``forms`` are extra words that count
    wherever they stand; ``not_imperative`` are clause-initial words never read as a command
    ("Free delivery", "Summer sale").
    """
    pos = 0
    for clause, question in _clauses(text):
        base = text.find(clause, pos)
        pos = base + len(clause) if base >= 0 else pos
        words = [(m.group(0).lower().replace("ё", "е"), m.start()) for m in _WORD_RE.finditer(clause)]
        found = _clause_cta(words, language, question, forms, not_imperative)
        if found is not None and base >= 0:
            start, word = found
            return base + start, base + start + len(word)
    return None


def _clause_cta(
    words: list[tuple[str, int]], language: str, question: bool, forms: frozenset[str], not_imperative: frozenset[str]
) -> tuple[int, str] | None:
    first = 0
    while first < len(words) - 1 and words[first][0] in _LEAD_WORDS:
        first += 1
    for i, (word, start) in enumerate(words):
        if word in forms:
            return start, word
        if question or word in not_imperative:
            continue
        after_subject = i > 0 and words[i - 1][0] in _SUBJECT_WORDS
        if language == "ru" and _is_cyrillic(word):
            imperative, infinitive = _russian_moods(word)
            after_modal = i > 0 and words[i - 1][0] in _MODAL_WORDS
            if (imperative and not after_subject) or (infinitive and (i == first or after_modal)):
                return start, word
        elif word.isascii() and english_base_verb(word):
            # a clause-opening base verb, or "to" + a verb early in the clause ("Time to upgrade")
            if i == first or (i <= first + 4 and words[i - 1][0] == "to"):
                return start, word
    return None


def _is_cyrillic(word: str) -> bool:
    return any("а" <= c <= "я" or c == "е" for c in word)


# --- capitals -------------------------------------------------------------------------------------

_VOWELS = set("aeiouyаеёиоуыэюя")


@cache
def is_common_word(word: str, language: str) -> bool:
    """Is the lower-case ``word`` an ordinary dictionary word (so that writing it in capitals shouts)?
    Abbreviations the dictionary marks as such are not ordinary words."""
    if _is_cyrillic(word):
        parses = [p for p in _analyzer().parse(word) if p.score >= 0.05]
        if not parses or any("Abbr" in p.tag or "UNKN" in p.tag for p in parses):
            return False
        return _analyzer().word_is_known(word)
    import lemminflect

    return bool(lemminflect.getAllLemmas(word))


def looks_like_acronym(word: str, max_length: int) -> bool:
    """A short capitalised token that reads as letters, not as a word: few vowels or very short."""
    low = word.lower()
    if len(low) <= 2:
        return True
    vowels = sum(c in _VOWELS for c in low)
    return len(low) <= max_length and vowels * 2 <= len(low)


# --- SMS segments ---------------------------------------------------------------------------------

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(text: str) -> tuple[int, str]:
    """How many SMS segments ``text`` takes, and its encoding (GSM-7 or UCS-2), per 3GPP TS 23.038:
    GSM-7 fits 160 septets in one segment and 153 per part of a longer message (extension characters
    such as € take two); UCS-2 fits 70 UTF-16 units in one and 67 per part."""
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text):
        units = sum(2 if c in _GSM7_EXTENDED else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    if units <= single:
        return (1 if units else 0), encoding
    return -(-units // part), encoding
