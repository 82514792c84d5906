"""Numeric claims in text: percentages, amounts of money, terms, dates and bare numbers, normalised.

"5 %", "5%", "пять процентов" are all (percent, 5). "1 000 ₽", "1000 руб.", "1 тыс. рублей" are all
(money, 1000, RUB); "$1,000" is (money, 1000, USD). "12 месяцев" and "1 год" are both terms of 365
days (compared with a small tolerance). Number words are read only before a unit ("пять процентов",
"three months"), where they are a claim; "один клик" is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from rules.morph import russian_forms
from rules.prefilter import guarded
from rules.text import CYRILLIC_RE, normalise

_SEP = "[ \u00a0\u202f]"
_NUM = rf"\d{{1,3}}(?:(?:{_SEP}|,(?=\d{{3}}(?!\d)))\d{{3}})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_MULT = r"тыс\.?|тысяч[а-я]*|млн\.?|миллион[а-я]*|млрд\.?|миллиард[а-я]*|k|thousand|million|mln|bn|billion"
_PERCENT = r"%|процент[а-я]*|percent|pct"
_MONEY = r"₽|руб(?:\.|л[а-я]*)?|р\.|\$|usd|долл(?:\.|ар[а-я]*)|€|eur|евро|£|gbp|dollars?|euros?|rubles?|roubles?"
_TERM = (
    r"дн(?:я|ей)|день|сут(?:ки|ок)|недел[а-я]*|нед\.|месяц[а-я]*|мес\.?|год(?:а|у|ом)?|лет"
    r"|час(?:а|ов)?|ч\.|минут[а-я]*|мин\.?|секунд[а-я]*|сек\.?"
    r"|days?|weeks?|months?|mths?|mos?|years?|yrs?|hours?|hrs?|minutes?|mins?|seconds?|secs?"
)
_DATA = r"[кмгтkmgt][бb]|кбайт|мбайт|гбайт|тбайт|gigabytes?|terabytes?|megabytes?"
_MONTHS_RU = ("январ", "феврал", "март", "апрел", "ма", "июн", "июл", "август", "сентябр", "октябр", "ноябр", "декабр")
_MONTHS_EN = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_WORD = (
    r"(?:января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
    r"|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)

# Alternatives that start with a digit are tried behind one lookahead for it; their order (which wins
# at one position) is kept. The money-sign and month-word alternatives cannot start at a digit.
_MAIN_SOURCE = (
    rf"(?=\d)(?:(?P<time>(?<![\d.:])\d{{1,2}}:\d{{2}}(?![\d:]))"
    rf"|(?P<iso>(?<!\d)(?P<iy>\d{{4}})-(?P<im>\d{{2}})-(?P<id>\d{{2}})(?!\d))"
    rf"|(?P<dmy>(?<![\d.,])(?P<dd>\d{{1,2}})\.(?P<dm>\d{{2}})(?:\.(?P<dy>\d{{2,4}}))?(?![\d.,]*\d)"
    rf"(?!{_SEP}?(?:%|[a-zа-яё$€₽£])))"
    rf"|(?P<dayword>(?<!\d)(?P<wd>\d{{1,2}})(?:st|nd|rd|th)?{_SEP}?(?P<wm>{_MONTH_WORD})(?![a-zа-я]))"
    rf"|(?P<num>(?<![\w.,])(?P<n>{_NUM})(?![\d])(?:{_SEP}?(?P<mult>{_MULT})(?![a-zа-я]))?"
    rf"(?:(?:{_SEP}?|-)(?P<unit>{_PERCENT}|{_MONEY}|{_TERM}|{_DATA})(?![a-zа-я]))?))"
    rf"|(?P<pre>(?P<pcur>[$€£₽]){_SEP}?(?P<pnum>{_NUM})(?:{_SEP}?(?P<pmult>{_MULT}|m|b)(?![a-zа-я]))?)"
    rf"|(?P<wordday>(?<![a-zа-я])(?!(?-i:APR)\b)(?P<wm2>{_MONTH_WORD}){_SEP}(?P<wd2>\d{{1,2}})(?:st|nd|rd|th)?(?!\d))"
)


@cache
def _main_re() -> re.Pattern[str]:  # compiled on first use: a cold check without briefs never needs it
    return guarded(re.compile(_MAIN_SOURCE, re.IGNORECASE))


_RU_NUMBER_WORDS = {
    "ноль": 0,
    "один": 1,
    "два": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "пятнадцать": 15,
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "девяносто": 90,
    "сто": 100,
    "полтора": 1.5,
}
_EN_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}


@dataclass(frozen=True, slots=True)
class Mention:
    kind: str  # percent | money | term | duration | data | date | time | number
    value: float | tuple[int, int]
    unit: str | None
    start: int
    end: int

    def __reduce__(self) -> tuple:  # pickled by its fields (a frozen value is rebuilt, not set)
        return (Mention, (self.kind, self.value, self.unit, self.start, self.end))


@lru_cache(maxsize=4096)  # a pure function of the unit as written: "руб.", "%", "месяцев"
def _unit_kind(unit: str) -> tuple[str, str | None]:
    u = normalise(unit).rstrip(".")
    if re.fullmatch(_PERCENT, u, re.IGNORECASE):
        return "percent", None
    if u in {"₽", "р"} or u.startswith(("руб", "rub", "roub")):
        return "money", "RUB"
    if u in {"$", "usd"} or u.startswith(("долл", "dollar")):
        return "money", "USD"
    if u in {"€", "eur", "евро"} or u.startswith("euro"):
        return "money", "EUR"
    if u in {"£", "gbp"}:
        return "money", "GBP"
    if re.fullmatch(_DATA, u):
        return "data", u[0].translate(str.maketrans("кмгт", "kmgt"))
    return "term", _term_unit(u)


def _term_unit(u: str) -> str:
    if u.startswith(("сек", "sec")):
        return "second"
    if u.startswith(("мин", "min")):
        return "minute"
    if u.startswith(("час", "ч", "hour", "hr")):
        return "hour"
    if u.startswith(("дн", "ден", "сут", "day")):
        return "day"
    if u.startswith(("нед", "week")):
        return "week"
    if u.startswith(("мес", "month", "mth", "mo")):
        return "month"
    return "year"


_TERM_DAYS = {"second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "month": 30.4, "year": 365}
_DATA_GB = {"k": 1 / 1024**2, "m": 1 / 1024, "g": 1.0, "t": 1024.0}


_SEP_RE = re.compile(_SEP)
_THOUSANDS_RE = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")


@lru_cache(maxsize=4096)
def _number(raw: str, decimal_comma: bool = False) -> float:
    digits = _SEP_RE.sub("", raw)
    if not decimal_comma and _THOUSANDS_RE.fullmatch(digits):  # "1,000" and "1,000.50": thousands
        digits = digits.replace(",", "")
    mark = max(digits.rfind(","), digits.rfind("."))
    if mark >= 0 and (digits.count(",") + digits.count(".")) > 1:  # "1,000,5", "3,512.05 млн": the last is the
        digits = digits[:mark].replace(",", "").replace(".", "") + "." + digits[mark + 1 :]  # decimal mark
    return float(digits.replace(",", "."))


def _multiplier(raw: str | None) -> float:
    if not raw:
        return 1.0
    m = normalise(raw)
    if m.startswith(("тыс", "k", "thousand")):
        return 1e3
    if m.startswith(("млн", "миллион", "million", "mln")) or m == "m":
        return 1e6
    return 1e9


def _month_index(word: str) -> int:
    w = normalise(word)
    for i, stem in enumerate(_MONTHS_RU):
        if w.startswith(stem) and (stem != "ма" or w == "мая"):
            return i + 1
    for i, stem in enumerate(_MONTHS_EN):
        if w.startswith(stem):
            return i + 1
    return 0


def _term_value(n: float, unit: str) -> float:
    return n * _TERM_DAYS[unit]


_MENTIONS: dict[str, tuple[Mention, ...]] = {}
_DIGIT_RE = re.compile(r"\d")


def mentions(text: str) -> tuple[Mention, ...]:
    """Every numeric claim in ``text``; remembered per text (a brief's values and a message are read by
    several rules, and briefs recur across messages)."""
    found = _MENTIONS.get(text)
    if found is None:
        if len(_MENTIONS) > 20_000:
            _MENTIONS.clear()
        found = _MENTIONS[text] = tuple(_read_mentions(text))
    return found


# Every form but number words holds a digit at most this many characters after its start: a currency
# sign and a space before it, or the longest month word and a space ("september 5").
_DIGIT_REACH = 10


def _figures(text: str) -> Iterator[re.Match[str]]:
    """The main regex's matches, as ``finditer`` finds them, with the scan started near each next digit
    instead of at every letter (a match cannot start further than ``_DIGIT_REACH`` before one)."""
    main, pos = _main_re(), 0
    while (digit := _DIGIT_RE.search(text, pos)) is not None:
        m = main.search(text, max(pos, digit.start() - _DIGIT_REACH))
        if m is None:
            return
        yield m
        pos = m.end()  # no form matches empty


def _read_mentions(text: str) -> list[Mention]:
    """Every numeric claim in ``text`` (times of day are skipped: they are not claims)."""
    out: list[Mention] = []
    for m in _figures(text):
        start, end = m.span()
        form = m.lastgroup  # the alternative that matched: its group closes after the groups inside it
        if form == "num":
            mult = m.group("mult")
            value = _number(m.group("n"), decimal_comma=bool(mult and CYRILLIC_RE.match(mult)))
            value *= _multiplier(mult)
            out.append(_with_unit(value, m.group("unit"), start, end))
        elif form == "time":
            hours, minutes = m.group("time").split(":")
            out.append(Mention("time", (int(hours), int(minutes)), None, start, end))
        elif form == "iso":
            out.append(Mention("date", (int(m.group("im")), int(m.group("id"))), None, start, end))
        elif form == "dmy":
            day, month = int(m.group("dd")), int(m.group("dm"))
            if 1 <= day <= 31 and 1 <= month <= 12:
                out.append(Mention("date", (month, day), None, start, end))
            else:
                out.append(Mention("number", _number(m.group(0)), None, start, end))
        elif form == "dayword":
            out.append(Mention("date", (_month_index(m.group("wm")), int(m.group("wd"))), None, start, end))
        elif form == "wordday":
            out.append(Mention("date", (_month_index(m.group("wm2")), int(m.group("wd2"))), None, start, end))
        else:  # "pre": a currency sign before the figure
            value = _number(m.group("pnum")) * _multiplier(m.group("pmult"))
            out.append(Mention("money", value, _unit_kind(m.group("pcur"))[1], start, end))
    out.extend(_word_mentions(text))
    return out


def _with_unit(value: float, unit: str | None, start: int, end: int) -> Mention:
    if not unit:
        return Mention("number", value, None, start, end)
    kind, sub = _unit_kind(unit)
    if kind == "term":
        # minutes and hours (delivery, a decision) are another kind of fact than days to years (a term)
        kind = "duration" if sub in ("second", "minute", "hour") else "term"
        return Mention(kind, _term_value(value, sub or "day"), sub, start, end)
    if kind == "data":
        return Mention("data", value * _DATA_GB[sub or "g"], "GB", start, end)
    return Mention(kind, value, sub, start, end)


_UNIT_WORD_RE = guarded(
    re.compile(
        r"(?<![a-zа-яё])(?:процент[а-я]*|percent|рубл[а-я]*|руб\.|долл[а-я]*|dollars?|евро|euros?"
        r"|дн(?:я|ей)|день|недел[а-я]*|месяц[а-я]*|год(?:а|у|ом)?|лет|days?|weeks?|months?|years?)(?![a-zа-яё])"
    )  # searched in normalised (lower-case) text
)
_LETTERS_RE = re.compile(r"[^\W\d_]+")


@cache
def _number_words() -> dict[str, float]:
    values: dict[str, float] = {}
    for lemma, value in _RU_NUMBER_WORDS.items():
        for form in russian_forms(lemma):
            values.setdefault(form, value)
    values.update(_EN_NUMBER_WORDS)
    return values


def number_word(word: str) -> float | None:
    """The value of one normalised number word ("three", "трёх"), or None."""
    return _number_words().get(word)


def _word_mentions(text: str) -> list[Mention]:
    """Number words right before a unit word: find the units first (rare), then walk back."""
    out = []
    norm = normalise(text)
    for unit in _UNIT_WORD_RE.finditer(norm):
        values = _number_words()
        total, start = 0.0, unit.start()
        while True:  # the word before, with spaces or hyphens between, read backwards from ``start``
            before = norm[max(0, start - 30) : start]
            kept = before.rstrip(" -")
            word = _LETTERS_RE.match(kept[::-1]) if len(kept) < len(before) else None
            if word is None or (said := word.group(0)[::-1]) not in values:
                break
            total += values[said]
            start -= len(before) - len(kept) + len(said)
        if start < unit.start():
            out.append(_with_unit(total, unit.group(0), start, unit.end()))
    return out


def same_value(a: Mention, b: Mention) -> bool:
    """Do two mentions state the same thing? A bare number agrees with any kind of the same value."""
    if a.kind in ("date", "time") or b.kind in ("date", "time"):
        return a.kind == b.kind and a.value == b.value
    va, vb = float(a.value), float(b.value)  # type: ignore[arg-type]
    if a.kind == "number" or b.kind == "number":
        if a.kind in ("term", "duration") and b.kind == "number":
            return abs(va - vb * _TERM_DAYS[a.unit or "day"]) < 1e-6
        if b.kind in ("term", "duration") and a.kind == "number":
            return abs(vb - va * _TERM_DAYS[b.unit or "day"]) < 1e-6
        return abs(va - vb) < 1e-9
    spans = ("term", "duration")
    if a.kind != b.kind and not (a.kind in spans and b.kind in spans):  # "24 hours" states "1 day"
        return False
    if a.kind == "money" and a.unit and b.unit and a.unit != b.unit:
        return False
    if a.kind in spans:
        return abs(va - vb) <= 0.02 * max(va, vb)
    return abs(va - vb) < 1e-9


def raw_value(m: Mention) -> float:
    """The number as written, before terms are turned into days and sizes into gigabytes."""
    if m.kind in ("term", "duration"):
        return float(m.value) / _TERM_DAYS[m.unit or "day"]  # type: ignore[arg-type]
    if m.kind in ("date", "time"):
        return -1.0
    return float(m.value)  # type: ignore[arg-type]
