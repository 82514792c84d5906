"""What a figure of a message is said of, beside its value: the period and the basis of a price, the
scale of its unit, the fact the word next to it names, and whether it is a saving.

The facts analysis (rules.facts) first matches a claim's value to the brief's attributes; these tests
then say whether a claim that agrees in value states the attribute ("14.9 cents per MWh" repeats the
figure of "14.9¢ per kWh" but misstates it), and which attribute a claim that agrees with none speaks of.
What a test needs from a brief is worked out once per brief and kept in its index's ``memo``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from rules.numbers import Mention, same_value
from rules.prefilter import guarded
from rules.text import WORD_RE, clause_around, normalise

if TYPE_CHECKING:
    from rules.facts import BriefIndex

T = TypeVar("T")


def _per_key(index: BriefIndex, test: str, key: str, build: Callable[[str, object], T]) -> T:
    """What ``build(key, value)`` makes of one of the brief's attributes (``offer``: its offer), made once
    per brief and test and kept in the index's memo."""
    memo = index.memo.setdefault(test, {})
    found = memo.get(key)
    if found is None:
        value = index.brief.offer if key == "offer" else index.brief.attributes.get(key)
        found = memo[key] = build(key, value)
    return found


# Period words: "$0 annual fee" and "$0 monthly fee" state different facts.
_PERIODS = (
    (
        "year",
        r"annual(?:ly)?|yearly|a year|per year|(?:every|each) year|per annum|p\.a\.|/\s?y(?:ea)?r"
        r"|годов[а-я]*|ежегодн[а-я]*"
        r"|(?:в|за) (?:первый |каждый |весь )?год",
    ),
    (
        "month",
        r"monthly|a month|per month|(?:every|each) month|"
        r"/\s?mo(?:nth)?|ежемесячн[а-я]*|(?:в|за) (?:первый |каждый )?месяц|/\s?мес",
    ),
    ("week", r"weekly|a week|per week|еженедельн[а-я]*|в неделю"),
    ("day", r"daily|a day|per day|ежедневн[а-я]*|в день|за день|в сутки"),
)
PERIOD_RE = guarded(
    re.compile("|".join(f"(?P<{name}>(?<![a-zа-яё])(?:{p})(?![a-zа-яё]))" for name, p in _PERIODS), re.I)
)


def period_near(text: str, start: int, end: int) -> str | None:
    """The period word nearest to a claim within its clause (a few words before or after), or None."""
    before, after = clause_around(text, start, end, reach=40)
    best: tuple[int, str] | None = None
    for chunk, distance in ((after, lambda m: m.start()), (before, lambda m: len(before) - m.end())):
        for m in PERIOD_RE.finditer(chunk):
            d = distance(m)
            if best is None or d < best[0]:
                best = (d, m.lastgroup or "")
    return best[1] if best else None


def same_stem(a: str, b: str) -> bool:
    """Five letters in common at the start, or four where a word has only four ("рассрочка" is not
    "рассчитайте"; "deli" of "delivery" is "delivered")."""
    n = 5 if len(a) >= 5 and len(b) >= 5 else 4
    return a[:n] == b[:n]


# --- the basis of a price -------------------------------------------------------------------------

# what a price is for, right after it: "per line", "за урок", "/month", "a month", "на двоих", "с человека"
_BASIS_RE = re.compile(
    r"[ \u00a0]*(?:[$€£₽]|руб[а-я]*\.?|р\.|usd|dollars?)?[ \u00a0]*"
    r"(?:(?:(?:per|за)(?![^\W\d_])|/)[ \u00a0]*(?:1[ \u00a0]+)?(?P<word>[^\W\d_]+)"
    r"|(?:на|с|for)[ \u00a0]+(?P<people>двоих|троих|одного|человека|персону|гостя|семью|two|one|person|couple))",
    re.IGNORECASE,
)


def _basis(text: str, end: int) -> str | None:
    """What the price ending at ``end`` is for: a period ("month") or a word ("урок", "line"); None if unsaid."""
    said = _BASIS_RE.match(text, end)
    if said is None:
        period = PERIOD_RE.search(text, end, min(len(text), end + 16))
        close = period is not None and not text[end : period.start()].strip(" \u00a0$€£₽.руб")
        return period.lastgroup if close else None  # type: ignore[union-attr]
    word = normalise(said.group("word") or said.group("people"))
    for spelled in (f"per {word}", f"в {word}", f"/{word}"):  # "per month", "в месяц", "/мес", "/mo"
        by_period = PERIOD_RE.fullmatch(spelled)
        if by_period is not None:
            return by_period.lastgroup
    return word


def _brief_bases(index: BriefIndex, key: str) -> list[tuple[Mention, str]]:
    """(price, what it is for) of each price in an attribute's value that says what it is for."""

    def build(key: str, value: object) -> list[tuple[Mention, str]]:
        if not isinstance(value, str):
            return []
        return [(f, b) for f in index.by_attr[key] if f.kind == "money" and (b := _basis(value, f.end)) is not None]

    return _per_key(index, "bases", key, build)


def wrong_basis(text: str, claim: Mention, agreeing: list[str], index: BriefIndex) -> list[str]:
    """The attributes whose price a money claim repeats for another basis: each says what its price is for,
    the message says something else ("4 lines for $25 a month" for "$25 per line per month")."""
    said = _basis(text, claim.end)
    if said is None:
        return []
    for key in agreeing:
        own = [b for f, b in _brief_bases(index, key) if same_value(f, claim)]
        if not own or any(b == said or (len(b) >= 4 and same_stem(b, said)) for b in own):
            return []  # an attribute that says no basis, or the same one, agrees
    return list(agreeing)


# --- the scale of a unit --------------------------------------------------------------------------

# the unit a figure is given in: the word after it, or after "per" / "за" / "в" / "/" ("14.9¢ per kWh")
_UNIT_AFTER_RE = re.compile(
    r"[ \u00a0]*[¢%$€£₽]?[ \u00a0]*(?:(?:[a-z]+[ \u00a0]+)?(?:per|за|в|/)[ \u00a0]*)?([^\W\d_]{1,5})(?![^\W\d_])",
    re.IGNORECASE,
)
_SCALES = frozenset("kmgtкмгт")  # kilo, mega or milli, giga, tera, in both alphabets
_ONE_LETTER_UNITS = frozenset("gmlbwгмлвт")


def _scaled(a: str, b: str) -> bool:
    """Are two unit words one unit under two scales ("kwh" / "mwh", "мбит" / "гбит", "кг" / "г")?"""
    if a == b:
        return False
    if len(a) == len(b) and a[0] in _SCALES and b[0] in _SCALES:
        rest = a[1:]
        return rest == b[1:] and (len(rest) >= 2 or rest in _ONE_LETTER_UNITS)
    short, long = sorted((a, b), key=len)
    return (
        len(long) == len(short) + 1
        and long[0] in _SCALES
        and long[1:] == short
        and (len(short) >= 2 or short in _ONE_LETTER_UNITS)
    )


def _brief_units(index: BriefIndex, key: str) -> list[tuple[Mention, str]]:
    """(figure, the unit word after it) of each figure in an attribute's value."""

    def build(key: str, value: object) -> list[tuple[Mention, str]]:
        if not isinstance(value, str):
            return []
        return [(f, normalise(m.group(1))) for f in index.by_attr[key] if (m := _UNIT_AFTER_RE.match(value, f.end))]

    return _per_key(index, "units", key, build)


def rescaled_unit(text: str, claim: Mention, agreeing: list[str], index: BriefIndex) -> list[str]:
    """The attributes whose figure the claim repeats under another scale of the same unit."""
    units = [(key, f, u) for key in agreeing for f, u in _brief_units(index, key)]
    if not units:
        return []
    said = _UNIT_AFTER_RE.match(text, claim.end)
    if said is None:
        return []
    unit = normalise(said.group(1))
    found = {key for key, f, own in units if _scaled(unit, own) and same_value(f, claim)}
    return [key for key in agreeing if key in found]


# --- the fact the word next to a figure names -----------------------------------------------------

_ADJACENT_WORD_RE = re.compile(r"[ \u00a0]+([^\W\d_]+)")  # the word right after, in the same clause
_WORD_RIGHT_BEFORE_RE = re.compile(r"([^\W\d_]+)[ \u00a0]+$")  # the word right before, in the same clause
FIGURE_NOUN_RE = re.compile(r"\d[ \u00a0]*[%¢]?[ \u00a0]*[^\W\d_]+[^\w\n]*$")  # "20,000 miles = ", "1% cashback "


def _key_prefixes(index: BriefIndex) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Each attribute's key words of five letters or more, as their first five letters; and all of them."""
    found: tuple[dict[str, frozenset[str]], frozenset[str]] | None = index.memo.get("key_prefixes")
    if found is None:
        by_key = {key: frozenset(s[:5] for s, _ in stems if len(s) >= 5) for key, stems in index.key_stems.items()}
        found = index.memo["key_prefixes"] = (by_key, frozenset().union(*by_key.values()))
    return found


def _prefixes(words: list[str]) -> set[str]:
    return {w[:5] for w in words if len(w) >= 5}


def message_prefixes(text: str | list[str]) -> set[str]:
    """The first five letters of every word of five or more in a message, given as text or as its
    normalised words (what ``named_rivals`` needs)."""
    return _prefixes(WORD_RE.findall(normalise(text)) if isinstance(text, str) else text)


def named_rivals(text: str, claim: Mention, agreeing: list[str], index: BriefIndex, said: set[str]) -> list[str]:
    """Attributes other than those a claim agrees with that the word next to the figure names ("с
    комиссией 1%", where the brief's 1% is the cashback and its fee 0 ₽), where none of the agreeing ones
    is named in its clause: the figure then misstates that fact. Only a fact of the claim's kind, or a zero
    or "none", is a rival, and a word that is another figure's noun ("2 минуты: 30 ГБ") names nothing.
    ``said``: the message's word prefixes (``message_prefixes``); a key no word of it names is no rival."""
    prefixes, every = _key_prefixes(index)
    if every.isdisjoint(said) or not any(not p.isdisjoint(said) for k, p in prefixes.items() if k not in agreeing):
        return []
    window = text[max(0, claim.start - 25) : claim.start]
    before = None if FIGURE_NOUN_RE.search(window) else _WORD_RIGHT_BEFORE_RE.search(window)
    after = _ADJACENT_WORD_RE.match(text, claim.end)
    near = _prefixes([normalise(m.group(1)) for m in (before, after) if m is not None])
    if not near:
        return []

    def rival(key: str) -> bool:
        return key in index.nil or any(f.kind == claim.kind or f.value == 0 for f in index.by_attr[key])

    others = [k for k, p in prefixes.items() if k not in agreeing and not p.isdisjoint(near) and rival(k)]
    if not others:
        return []
    said_before, said_after = clause_around(text, claim.start, claim.end)
    clause = _prefixes(WORD_RE.findall(normalise(f"{said_before} {said_after}")))
    return [] if any(not prefixes.get(k, frozenset()).isdisjoint(clause) for k in agreeing) else others


# --- savings --------------------------------------------------------------------------------------

# a saving ("save $3,500", "экономия 2 000 ₽", "$10 off") speaks of a price only where the brief's fact is one
_SAVING_RE = re.compile(
    r"(?<![a-zа-яё])(?:save[sd]?|savings?|off|discount[a-z]*|cheaper|эконом[а-яё]*|выгод[а-яё]*|скидк[а-яё]*|дешевле)"
    r"(?![a-zа-яё])",
    re.IGNORECASE,
)


def is_saving(text: str, claim: Mention) -> bool:
    """Is the claim said as a saving: a saving word shortly before it or right after it?"""
    before, after = clause_around(text, claim.start, claim.end, reach=20)
    return _SAVING_RE.search(before) is not None or _SAVING_RE.match(after.lstrip(" \u00a0")) is not None


def holds_saving(index: BriefIndex, key: str) -> bool:
    """Does the brief's fact under ``key`` (or its offer) speak of a saving (a discount, "выгода")?"""
    return _per_key(index, "saving", key, lambda key, value: _SAVING_RE.search(f"{key} {value}") is not None)
