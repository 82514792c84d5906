"""Grammar helpers for the phrase banks (jinja2 filters and functions).

Russian: the product name in any case (its leading adjectives and head noun inflected through
pymorphy3, the rest left as written), words that agree with the product's gender and number, and
numerals with their nouns ("1 день", "2 дня", "5 дней", "в течение 24 месяцев").
English: a/an, plurals, and value phrases that keep "from" / "up to" values after their noun
("a minimum deposit from $100", never "a from $100 minimum deposit").
Both: a preposition that is not doubled when the value already starts with one ("на до 5 лет").
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_RU_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_RU_PREPS = {"от", "до", "за", "на", "в", "во", "с", "со", "по", "без", "для", "из", "под", "при", "через"}
_EN_PREPS = {"from", "up", "until", "in", "for", "at", "on", "with", "by", "over", "under", "to"}
_NUM_RE = re.compile(r"^(\d[\d\s\u00a0]*)([^\W\d_]+)(.*)$")


@lru_cache(maxsize=1)
def _morph() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def _keep_case(source: str, word: str) -> str:
    return word[:1].upper() + word[1:] if source[:1].isupper() else word


@lru_cache(maxsize=4096)
def _nominative(word: str) -> Any | None:
    """The word's parse as a nominative noun, adjective or participle (the first such), or None."""
    for parse in _morph().parse(word):
        if parse.tag.POS in {"NOUN", "ADJF", "PRTF"} and "nomn" in parse.tag:
            return parse
    return None


def _name_words(name: str) -> tuple[list[str], int]:
    """The words of a product name and how many lead it (adjectives up to and including the head noun)."""
    words = name.split(" ")
    for i, word in enumerate(words):
        parse = _nominative(word.lower()) if word.isalpha() and re.match("[А-Яа-яЁё]", word) else None
        if parse is None:
            return words, i
        if parse.tag.POS == "NOUN":
            return words, i + 1
    return words, len(words)


def ru_head(name: str) -> tuple[str, str]:
    """(gender, number) of the product name's head noun: ("femn", "sing") for "Кредитная карта"."""
    words, lead = _name_words(name)
    if lead == 0:
        return "masc", "sing"
    parse = _nominative(words[lead - 1].lower())
    number = "plur" if parse is not None and "plur" in parse.tag else "sing"
    gender = (parse.tag.gender if parse is not None else None) or "masc"
    return gender, number


@lru_cache(maxsize=4096)
def ru_case(name: str, case: str) -> str:
    """The product name in a grammatical case: ru_case("Кредитная карта «Свобода»", "accs") ->
    "Кредитную карту «Свобода»". Words after the head noun ("по России", "«Свобода»") stay."""
    if case not in _RU_CASES:
        raise ValueError(f"unknown case {case!r}; use one of {', '.join(_RU_CASES)}")
    words, lead = _name_words(name)
    gender, number = ru_head(name)
    head = _nominative(words[lead - 1].lower()) if lead else None
    # an adjective's accusative follows the head's animacy only in the masculine and the plural
    animate = case == "accs" and (number == "plur" or gender == "masc")
    animacy = {"anim" if head is not None and "anim" in head.tag else "inan"} if animate else set()
    out = []
    for i, word in enumerate(words):
        parse = _nominative(word.lower()) if i < lead else None
        grams = {case, number} | (animacy if parse is not None and parse.tag.POS != "NOUN" else set())
        form = parse.inflect(grams) if parse is not None else None
        out.append(_keep_case(word, form.word) if form is not None else word)
    return " ".join(out)


def ru_agree(word: str, name: str, case: str = "nomn") -> str:
    """`word` (an adjective, participle or verb) agreeing with the product name: ru_agree("доступный",
    "Кроссовки RunFast") -> "доступны" for a short form, "ждёт" -> "ждут" for a verb."""
    gender, number = ru_head(name)
    parse = _morph().parse(word)[0]
    grams: set[str] = {number} if number == "plur" else {gender, "sing"}
    if parse.tag.POS in {"ADJF", "PRTF"}:
        grams.add(case)
    if parse.tag.POS == "VERB" and ("pres" in parse.tag or "futr" in parse.tag):
        grams = {number}
    form = parse.inflect(grams)
    return _keep_case(word, form.word) if form is not None else word


def ru_number(n: int, noun: str, case: str = "nomn") -> str:
    """A numeral with its noun: ru_number(5, "день") -> "5 дней"; ru_number(24, "месяц", "gent") ->
    "24 месяцев"."""
    parse = _nominative(noun.lower()) or _morph().parse(noun)[0]
    if case in {"nomn", "accs"} and ("inan" in parse.tag or case == "nomn"):
        form = parse.make_agree_with_number(n)
    else:
        one = n % 10 == 1 and n % 100 != 11
        form = parse.inflect({case, "sing" if one else "plur"})
    return f"{n} {form.word if form is not None else noun}"


def ru_count(value: str, case: str) -> str:
    """A brief's count phrase in another case: ru_count("120 дней", "gent") -> "120 дней",
    ru_count("24 месяца", "gent") -> "24 месяцев", ru_count("4 визита в бизнес-залы", "accs") stays.
    Values that are not "<number> <noun> ..." come back unchanged."""
    match = _NUM_RE.match(value.strip())
    if not match:
        return value
    digits, noun, rest = match.groups()
    try:
        n = int(re.sub(r"\D", "", digits))
    except ValueError:
        return value
    lemma = _morph().parse(noun)[0].normal_form
    return ru_number(n, lemma, case).replace(str(n), digits.strip(), 1) + rest


_EN_BEFORE_UP_TO = {"of", "for", "with"}  # "a loan of up to $50,000", "apply for up to", "with up to 4 visits"


_RU_CONSONANTS = "бвгджзйклмнпрстфхцчшщ"


def ru_with(phrase: str) -> str:
    """ "с" or "со" before an instrumental phrase: "со страховкой", "со скидкой", "с картой"."""
    low = phrase.strip().lower()
    cluster = len(low) > 1 and low[0] in "сзшжщ" and low[1] in _RU_CONSONANTS
    return f"{'со' if cluster or low.startswith(('мно', 'вс')) else 'с'} {phrase}"


def with_prep(value: str, prep: str, language: str = "ru") -> str:
    """`prep value`, unless the value already starts with a preposition (then the value alone):
    with_prep("до 5 лет", "на") -> "до 5 лет"; with_prep("12 месяцев", "на") -> "на 12 месяцев".
    English keeps "of", "for" and "with" before "up to": with_prep("up to $50,000", "for") ->
    "for up to $50,000", but with_prep("from $100", "of") -> "from $100"."""
    words = value.strip().lower().split(" ")
    if language != "ru" and words[:2] == ["up", "to"] and prep in _EN_BEFORE_UP_TO:
        return f"{prep} {value}"
    preps = _RU_PREPS if language == "ru" else _EN_PREPS
    return value if words[0] in preps else f"{prep} {value}"


def starts_with_prep(value: str, language: str) -> bool:
    first = value.strip().split(" ", 1)[0].lower()
    return first in (_RU_PREPS if language == "ru" else _EN_PREPS)


# --- English ------------------------------------------------------------------------------------
_AN_LETTERS = set("AEFHILMNORSX")  # acronyms said with a vowel sound: an FDIC, an IRA, an SMS
_A_VOWEL_WORDS = ("uni", "use", "usu", "eu", "one", "once", "ubi")
_AN_CONSONANT_WORDS = ("hour", "honest", "honor", "honour", "heir")


def en_article(phrase: str) -> str:
    """ "a" or "an" for the phrase that follows it."""
    word = phrase.strip().split(" ", 1)[0].strip("$\"'(")
    if not word:
        return "a"
    if word[0].isdigit():
        group = re.match(r"\d+", word).group(0)  # type: ignore[union-attr]  # "18" of "18,000"
        return "an" if group.startswith("8") or group in {"11", "18"} else "a"
    head = word.split("-", 1)[0]  # "FDIC-insured" is said as the acronym
    if len(head) > 1 and (head.isupper() or head[1].isdigit()):
        return "an" if word[0] in _AN_LETTERS else "a"
    low = word.lower()
    if low.startswith(_AN_CONSONANT_WORDS):
        return "an"
    if low.startswith(_A_VOWEL_WORDS):
        return "a"
    return "an" if low[0] in "aeiou" else "a"


def en_a(phrase: str) -> str:
    return f"{en_article(phrase)} {phrase}"


_IRREGULAR = {"person": "people", "child": "children", "man": "men", "woman": "women", "night": "nights"}


def en_plural(noun: str, n: int | None = None) -> str:
    """The plural of a noun (or the noun, for n == 1): en_plural("night", 4) -> "nights"."""
    if n == 1:
        return noun
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    return noun + "s"


def en_count(n: int, noun: str) -> str:
    return f"{n} {en_plural(noun, n)}"


def en_is_plural(name: str) -> bool:
    """Whether a product name's head noun is plural ("RunFast sneakers", "Domestic flights")."""
    last = re.sub(r"[^\w-]", "", name.strip().split(" ")[-1])
    return last.endswith("s") and not last.endswith(("ss", "us", "is")) and not last.isupper()


def en_noun(value: str, noun: str) -> str:
    """A value with its noun: "$1,000" + "minimum deposit" -> "$1,000 minimum deposit"; "from $100" ->
    "minimum deposit from $100"; a value that already names the noun ("$0 annual fee" + "fee") stays."""
    if noun.split(" ")[-1].lower() in value.lower().split():
        return value
    if starts_with_prep(value, "en"):
        return f"{noun} {value}"
    return f"{value} {noun}"


def lower_first(text: str, keep: frozenset[str] = frozenset(), names_follow: bool = False) -> str:
    """Lower-case the first letter for use inside a sentence, unless the first word is a name: two
    capitals or a digit in it ("RunFast", "X2"), a word listed in `keep`, or (with `names_follow`, for
    English, where a brand precedes its noun) followed by a name or a number ("Pixel 9", "Roth IRA")."""
    parts = text.split(" ")
    first = parts[0]
    if sum(c.isupper() for c in first) > 1 or any(c.isdigit() for c in first) or first in keep:
        return text
    follower = parts[1][:1] if len(parts) > 1 else ""
    if names_follow and (follower.isupper() or follower.isdigit()):
        return text
    return text[:1].lower() + text[1:]


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def join_list(items: list[str], language: str) -> str:
    """ "a, b and c" / "а, б и в"."""
    if len(items) <= 1:
        return "".join(items)
    word = " и " if language == "ru" else " and "
    return ", ".join(items[:-1]) + word + items[-1]
