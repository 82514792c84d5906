"""Grammar the rules lean on instead of word lists: calls to action by mood, acronyms versus shouting,
SMS segments by encoding.

Russian uses pymorphy3's tags (``impr`` for the imperative, ``INFN`` for the infinitive, ``Abbr`` for
abbreviations). English uses lemminflect's dictionary (shipped inside its wheel): an imperative is a
clause-initial word whose verb lemma is the word itself. Both are imported lazily and every lookup is
cached, so a pack that never asks pays nothing and a long run pays once per distinct word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from rules.morph import _analyzer

_WORD_RE = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_FIRST_WORD_RE = re.compile(r"[\s\"'«“(]*[^\W\d_]")  # a text that opens with its first word


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that may stand before the imperative in its clause ("Just add to cart", "Now open in 5 cities").
_LEAD_WORDS = _words(
    "and or then just simply now please today so also even still и а или но теперь просто сегодня скорее "
    "лучше уже тоже также ещё еще "
)
_SUBJECT_WORDS = frozenset({"вы", "ты", "you", "we", "мы"})
# Words after which an infinitive is a call to action: "можно открыть онлайн", "стоит попробовать".
_MODAL_WORDS = frozenset({"можно", "стоит", "пора", "успейте", "поспешите", "предлагаем", "приглашаем"})
_EMOJI_BREAK = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]"


@cache
def lemma(word: str) -> str:
    """The dictionary form of a Russian word (its most likely reading)."""
    parses = _analyzer().parse(word)
    return parses[0].normal_form.replace("ё", "е") if parses else word


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


def _verb_lemma(word: str) -> bool:
    import lemminflect

    return word in lemminflect.getAllLemmas(word, upos="VERB").get("VERB", ())


@cache
def english_base_verb(word: str) -> bool:
    """Is ``word`` (lower case) the base form of an English verb? Prefixed verbs the dictionary lacks
    ("remortgage", "pre-order", "top-up") count when the rest is a verb."""
    if _verb_lemma(word):
        return True
    if "-" in word:
        head, _, rest = word.partition("-")
        return _verb_lemma(head) or (head in ("pre", "re", "co") and _verb_lemma(rest))
    for prefix in ("re", "pre", "un", "over", "up", "out"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 3 and _verb_lemma(word[len(prefix) :]):
            return True
    return False


# English function words: lemminflect's dictionary holds content words only.
ENGLISH_FUNCTION_WORDS = _words(
    "a an the and or but nor so yet of to in on at by for with from into onto over under about after "
    "before between through during without within per via than then as if when while where who whom "
    "whose which what that this these those it its you your yours we our ours us they their them he his "
    "she her i me my mine is are was were be been am do does did has have had will shall would should "
    "can could may might must not no all any each every some more most much many few less least only "
    "just also very too here there now up out off down away back again once still even ever never always "
    "today tonight tomorrow "
)


@cache
def english_word(word: str) -> bool:
    """Is the lower-case ``word`` an English dictionary or function word?"""
    import lemminflect

    return word in ENGLISH_FUNCTION_WORDS or bool(lemminflect.getAllLemmas(word))


# Sentence ends (an emoji ends one too: "Cashback on taxis 🚕 Apply in the app") and clause breaks.
_SENTENCE_END_RE = re.compile(rf"[.!?…]+(?=\s|$)|\n|{_EMOJI_BREAK}+")
_CLAUSE_BREAK_RE = re.compile(rf"[.!?…:;,\n]|\s[—–-]\s|{_EMOJI_BREAK}")


def call_to_action(
    text: str,
    language: str,
    words: list[str] | None = None,
    spans: list[tuple[int, int]] | None = None,
    not_imperative: frozenset[str] = frozenset(),
    offset: int = 0,
    word_set: set[str] | frozenset[str] | None = None,
) -> tuple[int, int] | None:
    """Where the first call to action of ``text`` is, judged by grammar, or None.

    A call to action is an imperative (not in a question, not after "вы"/"you"), or, for Russian, an
    infinitive opening a clause ("Рассчитать", "Оформить карту") or after "можно"; for English, a
    base-form verb opening a clause ("Find your size online", "Reorder in the app") or "to" + verb early
    in one ("Time to upgrade"). ``words`` and ``spans`` are the text's normalised words and their offsets
    when the caller has them (``spans`` may be offset by ``offset``); ``not_imperative`` are words never
    read as a command ("Free delivery"); ``word_set``, the set of ``words``, when the caller has it.
    """
    if words is None or spans is None:
        found = [(m.group(0).lower().replace("ё", "е"), m.span()) for m in _WORD_RE.finditer(text)]
        words, spans = [w for w, _ in found], [s for _, s in found]
    questions = "?" in text
    if language == "ru":
        order: Iterable[int] = range(len(words))
    else:  # only the words that can be English commands need a look (learned once per distinct word)
        word_set = set(words) if word_set is None else word_set
        _learn_english(word_set)
        commands = _EN_COMMANDS.intersection(word_set).difference(not_imperative)
        if not commands:
            return None
        order = [i for i, w in enumerate(words) if w in commands]
    for i in order:
        word = words[i]
        if word in not_imperative or not _may_command(word, language):
            continue
        start, end = spans[i]
        if questions and _in_question(text, end - offset):
            continue
        if language == "ru" and _russian_moods(word)[0] and (i == 0 or words[i - 1] not in _SUBJECT_WORDS):
            return start - offset, end - offset  # an imperative needs no clause analysis
        clause = _clause_opening(text, spans, i, offset)
        first = clause
        while first < i and words[first] in _LEAD_WORDS:
            first += 1
        previous = words[i - 1] if clause < i else ""
        opens = i == first and not (language != "ru" and _counted(text, start - offset))
        if _commands(word, language, opens, previous, i - first):
            return start - offset, end - offset
    return None


def _clause_opening(text: str, spans: list[tuple[int, int]], i: int, offset: int) -> int:
    """The index of the first word of word ``i``'s clause: walk back while the gap before a word holds no
    clause break (a gap is most often one space, which needs no regex)."""
    while i > 0:
        gap = text[spans[i - 1][1] - offset : spans[i][0] - offset]
        if gap != " " and _CLAUSE_BREAK_RE.search(gap) is not None:
            break
        i -= 1
    return i


_COUNT_BEFORE_RE = re.compile(r"[\d%$€£₽][ \t\u00a0]*$")


def _counted(text: str, start: int) -> bool:
    """Does a lower-case word at ``start`` follow a number ("1 minute", "3 months")? Then it is what is
    counted, not a command; a capital still opens a clause ("50% off Shop now")."""
    return not text[start].isupper() and _COUNT_BEFORE_RE.search(text, max(0, start - 24), start) is not None


_SEEN: set[str] = set()
_IMPERATIVES: set[str] = set()
_INFINITIVES: set[str] = set()
_EN_SEEN: set[str] = set()
_EN_COMMANDS: set[str] = set()  # words seen that may be an English command (``_may_command``)


def _learn_english(word_set: set[str] | frozenset[str]) -> None:
    """Each distinct word is looked up once per process; after that the quick look is set arithmetic."""
    unseen = word_set - _EN_SEEN
    if not unseen:
        return
    if len(_EN_SEEN) > 500_000:
        _EN_SEEN.clear()
        _EN_COMMANDS.clear()
    _EN_SEEN.update(unseen)
    _EN_COMMANDS.update(w for w in unseen if english_command_word(w))


def obvious_call_to_action(
    text: str,
    language: str,
    words: list[str],
    not_imperative: frozenset[str] = frozenset(),
    word_set: set[str] | frozenset[str] | None = None,
) -> bool | None:
    """A cheap first look, needing no offsets: True when there plainly is a call to action (no question
    in the text and a Russian imperative not after "вы", or an opening English base verb), False when
    there plainly is none (a Russian text with no imperative or infinitive at all, an English one with no
    word that can be a command), None when only
    ``call_to_action`` can tell."""
    if not words:
        return False
    if language != "ru":
        first = words[0]
        if "?" not in text and first not in not_imperative and english_command_word(first):
            if not text[:1].isalpha() and _FIRST_WORD_RE.match(text) is None:
                return None  # something stands before the first word ("2 minute checkout"): look closer
            return True
        word_set = set(words) if word_set is None else word_set
        _learn_english(word_set)
        return None if not (word_set & _EN_COMMANDS).issubset(not_imperative) else False
    word_set = set(words) if word_set is None else word_set
    unseen = word_set - _SEEN
    if unseen:  # each distinct word is looked up once per process; after that this is set arithmetic
        if len(_SEEN) > 500_000:
            _SEEN.clear()
            _IMPERATIVES.clear()
            _INFINITIVES.clear()
        _SEEN.update(unseen)
        for w in unseen:
            if _is_cyrillic(w):
                imperative, infinitive = _russian_moods(w)
                if imperative:
                    _IMPERATIVES.add(w)
                if infinitive:
                    _INFINITIVES.add(w)
    if word_set.isdisjoint(_IMPERATIVES):
        return None if not word_set.isdisjoint(_INFINITIVES) else False
    if "?" in text:
        return None
    if word_set.isdisjoint(_SUBJECT_WORDS):
        return True
    previous = ""
    for word in words:
        if _is_cyrillic(word) and _russian_moods(word)[0] and previous not in _SUBJECT_WORDS:
            return True
        previous = word
    return None


def _in_question(text: str, position: int) -> bool:
    m = _SENTENCE_END_RE.search(text, position)
    return m is not None and "?" in m.group(0)


@cache
def _may_command(word: str, language: str) -> bool:
    if language == "ru" and _is_cyrillic(word):
        return any(_russian_moods(word))
    return english_command_word(word)


_HOMOGLYPHS = str.maketrans("авекмнорстухі", "abekmhopctyxi")


@cache
def english_command_word(word: str) -> bool:
    """Can the lower-case ``word`` be an English command? A word with Cyrillic look-alike letters among
    Latin ones ("вuy") is read as it looks: the slip is typography's to report, the command is there."""
    if not word.isascii():
        if not any("a" <= c <= "z" for c in word):
            return False
        word = word.translate(_HOMOGLYPHS)
        if not word.isascii():
            return False
    if word in ENGLISH_FUNCTION_WORDS and word not in ("do", "be", "have"):
        return False  # "Over 5,000 products", "Back in stock": a preposition or adverb opening a clause
    return english_base_verb(word)


def _commands(word: str, language: str, opens_clause: bool, previous: str, index_in_clause: int) -> bool:
    if language == "ru" and _is_cyrillic(word):
        imperative, infinitive = _russian_moods(word)
        if imperative and previous not in _SUBJECT_WORDS:
            return True
        return infinitive and (opens_clause or previous in _MODAL_WORDS)
    # English: a clause-opening base verb, or "to" + a verb early in the clause
    return opens_clause or (previous == "to" and index_in_clause <= 4)


def _is_cyrillic(word: str) -> bool:
    return any("а" <= c <= "я" or c == "е" for c in word)


# --- capitals -------------------------------------------------------------------------------------


@cache
def is_common_word(word: str, language: str) -> bool:
    """Is the lower-case ``word`` an ordinary dictionary word (so that writing it in capitals shouts)?
    Abbreviations the dictionary marks as such are not ordinary words."""
    if _is_cyrillic(word):
        parses = [p for p in _analyzer().parse(word) if p.score >= 0.05]
        if not parses or any("Abbr" in p.tag or "UNKN" in p.tag for p in parses):
            return False
        return _analyzer().word_is_known(word)
    return english_word(word)


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


# --- English superlatives by morphology ------------------------------------------------------------

_MOST_RE = re.compile(r"\b(?:the\s+)?most[\s-]+([a-z]+)", re.IGNORECASE)
_EST_RE = re.compile(r"\b[A-Za-z]{3,}est\b")
_SUPERLATIVE_HINT = re.compile(r"est\b|(?i:most)")  # what either regex needs (one scan, in C)


@cache
def _lowered(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w.lower() for w in words)


@cache
def _is_superlative(word: str) -> bool:
    import lemminflect

    for lemma in lemminflect.getAllLemmas(word, upos="ADJ").get("ADJ", ()):
        if lemma != word and word in lemminflect.getAllInflections(lemma, upos="ADJ").get("JJS", ()):
            return True
    return False


@cache
def _is_adjective(word: str) -> bool:
    import lemminflect

    if lemminflect.getAllLemmas(word, upos="ADJ"):
        return True
    if lemminflect.getAllLemmas(word, upos="VERB") or lemminflect.getAllLemmas(word, upos="NOUN"):
        return False  # "most arrive", "most transfers": a quantifier, not a superlative
    return word.endswith(("ful", "ive", "able", "ible", "ous"))  # an adjective the dictionary lacks


def english_superlatives(text: str, brief: object, options: dict) -> list[tuple[int, int]]:
    """A custom rule (``type: python``): "-est" superlatives of adjectives ("the tastiest", "quietest")
    and "most" + adjective ("the most powerful", "most-loved"). ``options.allow`` lists words to skip."""
    low = text.lower()
    if ("est" not in low and "most" not in low) or _SUPERLATIVE_HINT.search(text) is None:
        return []
    allow = _lowered(tuple(options.get("allow", ())))
    found = []
    for m in _EST_RE.finditer(text):
        word = m.group(0).lower()
        if word not in allow and _is_superlative(word):
            found.append(m.span())
    for m in _MOST_RE.finditer(text):
        word = m.group(1).lower()
        if word not in allow and (_is_adjective(word) or word.endswith("ed")):
            found.append(m.span())
    return found
