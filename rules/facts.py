"""The facts analysis: numeric claims in a message set against the brief they were written from.

Every claim is looked up among the brief's facts (attribute values, and numbers in the product name,
keywords, offer and call to action). A claim that agrees with one is supported; one of a kind the
brief states with another value (a percentage where the brief's percentages differ) is a mismatch;
any other is unsupported. A required attribute is mentioned when one of its values is claimed, or,
for a textual value, when each of its words appears (Russian words matched by their stem).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rules.brief import Brief, per_brief
from rules.claims import (
    FIGURE_NOUN_RE,
    holds_saving,
    is_saving,
    message_prefixes,
    named_rivals,
    period_near,
    rescaled_unit,
    same_stem,
    wrong_basis,
)
from rules.numbers import Mention, mentions, number_word, raw_value, same_value
from rules.text import TOKEN_RE, WORD_RE, clause_around, normalise


@dataclass(slots=True)
class FactsReport:
    mismatched: list[tuple[Mention, list[str]]] = field(default_factory=list)
    unsupported: list[Mention] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    agreed: list[tuple[Mention, list[str]]] = field(default_factory=list)


def _attribute_facts(value: object) -> tuple[Mention, ...]:
    if isinstance(value, bool):
        return ()
    if isinstance(value, int | float):
        return (Mention("number", float(value), None, 0, 0),)
    return mentions(str(value))


def _stem_words(value: str) -> tuple[tuple[str, str | None], ...]:
    """The words of a textual value, each with the prefix another form of it starts with (None: the
    word must occur as it is)."""
    return tuple((w, None if len(w) < 4 else w[: max(4, len(w) - 2)]) for w in TOKEN_RE.findall(normalise(value)))


def _stem_mentioned(wanted: tuple[tuple[str, str | None], ...], words: list[str], word_set: set[str]) -> bool:
    for w, prefix in wanted:
        if w in word_set:
            continue
        if prefix is None or not any(t.startswith(prefix) for t in words):
            return False
    return True


Verdict = tuple[list[str], bool, list[str]]


class BriefIndex:
    """What one brief says, prepared once and reused for every message checked against it: its facts per
    attribute, the numbers in its other text, each attribute's period, and per claimed value (kind, value,
    unit) which attributes agree with it, whether the brief's other text does, and which attributes it
    contradicts whatever the message's wording."""

    __slots__ = (
        "brief",
        "by_attr",
        "free",
        "key_stems",
        "memo",
        "name_re",
        "nil",
        "numbered",
        "other",
        "periods",
        "required",
        "stems",
        "verdicts",
    )

    def __init__(self, brief: Brief) -> None:
        self.brief = brief
        self.by_attr = {key: _attribute_facts(value) for key, value in brief.attributes.items()}
        # the brief's other text: product, keywords, offer, call to action and the figures in attribute keys
        # ("абонемент на 12 месяцев": "24 900 ₽")
        told = [brief.product, *brief.keywords, brief.offer or "", brief.cta or "", *map(str, brief.attributes)]
        self.other = mentions(" \n ".join(told))
        self.name_re = _name_figures_re(brief.product)
        self.required = frozenset(brief.required_attributes)
        self.periods: dict[str, str | None] = {}
        self.stems = {key: _stem_words(str(value)) for key, value in brief.attributes.items()}
        self.key_stems = {key: _stem_words(key.replace("_", " ")) for key in brief.attributes}
        # attributes whose value says "none" ("foreign transaction fees: none"): naming them says the value
        self.nil = {key for key, value in brief.attributes.items() if _NIL_RE.fullmatch(str(value).strip())}
        # does the brief offer something free? Then "0 ₽" / "$0" agrees with it
        everything = " ".join(
            [
                brief.product,
                *brief.keywords,
                brief.offer or "",
                *map(str, brief.attributes),
                *map(str, brief.attributes.values()),
            ]
        )
        self.free = _FREE_RE.search(everything) is not None
        # attributes with a bare number, and the parts of their key ("min_age" -> "min", "age")
        self.numbered = [
            (key, [p for p in re.split(r"[_\W]+", key.lower()) if len(p) >= 3] + _nouns_after(brief.attributes[key], f))
            for key, f in self.by_attr.items()
            if any(fact.kind == "number" for fact in f)
        ]
        self.verdicts: dict[tuple, Verdict] = {}
        self.memo: dict[str, Any] = {}  # what the claims tests work out of the brief, by test

    def period(self, key: str) -> str | None:
        try:
            return self.periods[key]
        except KeyError:
            found = self.periods[key] = _attribute_period(key, self.brief.attributes[key])
            return found

    def verdict(self, claim: Mention) -> Verdict:
        """(attributes agreeing with the claim, does the brief's other text agree, rivals by kind or value)."""
        key = (claim.kind, claim.value, claim.unit)
        found = self.verdicts.get(key)
        if found is None:
            if len(self.verdicts) > 4096:
                self.verdicts.clear()
            found = self.verdicts[key] = self._judge(claim)
        return found

    def _judge(self, claim: Mention) -> Verdict:
        by_attr = self.by_attr
        kind = claim.kind
        by_key, other = self._comparable(kind)
        agreeing = [key for key, facts in by_key if any(same_value(claim, f) for f in facts)]
        other_agrees = any(same_value(claim, f) for f in other)
        rivals = [key for key, facts in by_attr.items() if kind != "number" and any(f.kind == kind for f in facts)]
        if not rivals and kind in _SPANS_OF_TIME:  # "in 24 hours" against a delivery time of 2 days
            rivals = [key for key, facts in by_attr.items() if any(f.kind in _SPANS_OF_TIME for f in facts)]
        if kind != "number" and any(f.kind == kind for f in other):
            rivals.append("offer")
        if not rivals and kind not in ("number", "date", "time"):  # the brief's value under another unit
            rivals = [
                key
                for key, facts in by_attr.items()
                if any(
                    f.kind not in ("number", "date", kind)
                    and (f.kind in _SPANS_OF_TIME) == (kind in _SPANS_OF_TIME)  # "5 минут" is not a 5% cashback
                    and raw_value(f) == raw_value(claim)
                    for f in facts
                )
            ]
        return agreeing, other_agrees, rivals

    def _comparable(self, kind: str) -> tuple[list[tuple[str, tuple[Mention, ...]]], tuple[Mention, ...]]:
        """The facts a claim of ``kind`` can agree with (``same_value`` is false for any other): per
        attribute, in the brief's order, and of the brief's other text."""
        memo = self.memo.setdefault("comparable", {})
        found = memo.get(kind)
        if found is None:
            by_key = [(key, kept) for key, facts in self.by_attr.items() if (kept := _comparable(kind, facts))]
            found = memo[kind] = (by_key, _comparable(kind, self.other))
        return found


def _comparable(kind: str, facts: tuple[Mention, ...]) -> tuple[Mention, ...]:
    """The facts ``same_value`` may find equal to a claim of ``kind``: a date or time only of its own kind;
    a bare number of any other kind; a term or duration of either; any other only of its kind."""
    stamps = ("date", "time")
    return tuple(
        f
        for f in facts
        if (
            f.kind == kind
            if kind in stamps or f.kind in stamps
            else f.kind == kind or "number" in (kind, f.kind) or (kind in _SPANS_OF_TIME and f.kind in _SPANS_OF_TIME)
        )
    )


def _nouns_after(value: object, facts: tuple[Mention, ...]) -> list[str]:
    """The words right after the bare numbers of a textual value ("7 ночей" -> "ночей")."""
    if not isinstance(value, str):
        return []
    found = []
    for fact in facts:
        if fact.kind == "number":
            after = _NEXT_WORD_RE.match(value, fact.end)
            if after and len(after.group(1)) >= 3:
                found.append(normalise(after.group(1)))
    return found


def _name_figures_re(product: str) -> re.Pattern[str] | None:
    """Where the message names the product by a name with a bare figure in it ("Свобода 120", "FiberLink 1
    Gig", "Unlimited 30" of "Orbit Mobile Unlimited 30 plan"): that figure is the name, not a claim. The
    product's quoted names, the whole product, and each bare figure with a capitalised word beside it."""
    names = [m.group(0)[1:-1] for m in _QUOTED_NAME_RE.finditer(product)] or [product]
    names += [" ".join(g for g in m.groups() if g) for m in _NAME_PAIR_RE.finditer(_QUOTED_NAME_RE.sub(" ", product))]
    # a bare figure in a name ("Свобода 120") is the name; a name that is a fact («120 дней») is said as the fact
    names = [n for n in names if (found := mentions(n)) and all(m.kind == "number" for m in found)]
    if not names:
        return None
    return re.compile("|".join(r"\s+".join(map(re.escape, n.split())) for n in names), re.IGNORECASE)


_CAPITALISED = r"[\w-]*[A-ZА-ЯЁ][\w-]*"
# a bare figure with the words with capitals next to it: "Свобода 120", "FiberLink 1 Gig", "Unlimited 30"
_NAME_PAIR_RE = re.compile(
    rf"(?<![\w-])({_CAPITALISED})\s+(\d[\d.,]*)(?![\w%])(?:\s+({_CAPITALISED}))?|(?<![\w.,])(\d[\d.,]*)\s+({_CAPITALISED})"
)
_QUOTED_NAME_RE = re.compile(r"«[^«»]+»|“[^“”]+”|\"[^\"]+\"")
_SPANS_OF_TIME = frozenset({"term", "duration"})
_NIL_RE = re.compile(r"none|no|nil|zero|free|нет|отсутствует|бесплатн[а-я]*|без комиссии|0", re.IGNORECASE)
_FREE_RE = re.compile(r"бесплатн|(?<![a-z])free(?![a-z])|без комисси|no (?:fee|charge)|(?<![a-z])none(?![a-z])", re.I)
# "$0" in words: "free", "fee-free", "бесплатно" (but "stress-free" is no price)
_ZERO_RE = re.compile(
    r"(?<![\w-])free(?![\w-])|(?:fee|commission|charge)-free|бесплатн|без комисси|no (?:fee|charge)", re.I
)
_BRIEF_FACTS: dict[int, tuple[Brief, BriefIndex]] = {}


def brief_index(brief: Brief) -> BriefIndex:
    """The brief's prepared facts, built once per brief object."""
    return per_brief(_BRIEF_FACTS, brief, BriefIndex)


_KEY_PERIODS = (("year", ("annual", "year", "годов")), ("month", ("month", "месяч")), ("day", ("daily", "day")))


# a price for a whole term ("24 900 ₽ за 12 месяцев") is a price per that period
_WHOLE_TERM_RE = re.compile(
    r"(?<![a-zа-яё])(?:за|for|over)\s+(?P<n>\d+)\s*(?P<unit>месяц|мес|год|лет|month|year)", re.IGNORECASE
)


def _attribute_period(key: str, value: object) -> str | None:
    if isinstance(value, str):
        found = period_near(value, 0, 0) or period_near(value, len(value), len(value))
        if found:
            return found
        whole = _WHOLE_TERM_RE.search(value)
        if whole:
            months = int(whole["n"]) * (1 if whole["unit"].lower() in ("месяц", "мес", "month") else 12)
            per = "month" if months == 1 else "year" if months == 12 else f"{months} months"
            return f"price per {per}"  # only a price has this period: "0% for 15 months" is a rate's term
    low = key.lower()
    for period, stems in _KEY_PERIODS:
        if any(s in low for s in stems):
            return period
    return None


def analyse(text: str, brief: Brief, ignore: list[re.Pattern[str]], words: list[str] | None = None) -> FactsReport:
    """The claims of ``text`` set against ``brief``; ``words``: the text's normalised words, where the
    caller has them."""
    report = FactsReport()
    index = brief_index(brief)
    by_attr = index.by_attr
    ignored = [m.span() for pattern in ignore for m in pattern.finditer(text)] if ignore else []
    if index.name_re is not None:
        ignored += [m.span() for m in index.name_re.finditer(text)]
    mentioned: set[str] = set()
    tokens: list[str] | None = None  # words and codes, once a textual fact is looked for
    token_set: set[str] = set()
    pending: list[tuple[Mention, list[str]]] = []
    said: set[str] | None = None  # the message's word prefixes, once a claim agrees with the brief
    for claim in mentions(text):
        if ignored and any(s < claim.end and claim.start < e for s, e in ignored):
            continue
        agreeing, other_agrees, rivals = index.verdict(claim)
        if agreeing:
            # the right figure misstates the fact: for the wrong period ("$0 monthly" for an annual fee), a price
            # for another basis ("1 100 ₽ в месяц" for per lesson), another scale of the unit ("per MWh" for
            # per kWh)...
            misstated = (
                _wrong_period(text, claim, agreeing, index)
                or (wrong_basis(text, claim, agreeing, index) if claim.kind == "money" else [])
                or rescaled_unit(text, claim, agreeing, index)
            )
            if not misstated:  # ...or it is another fact's ("с комиссией 1%", where 1% is the cashback, the fee 0)
                if said is None:
                    said = message_prefixes(text if words is None else words)
                misstated = named_rivals(text, claim, agreeing, index, said)
            if misstated:
                report.mismatched.append((claim, misstated))
                continue
            report.agreed.append((claim, agreeing))
            continue
        if other_agrees or (claim.value == 0 and claim.kind in ("money", "percent") and index.free):
            continue
        pending.append((claim, rivals))
    stated = {(key, claim.kind) for claim, keys in report.agreed for key in keys} if pending else set()
    for claim, rivals in pending:
        if not rivals and claim.kind == "number":  # "5 colours" where the brief says colours: 3
            rivals = _same_noun(text, claim, index)
        elif rivals and claim.kind in ("money", "percent", "term", "duration"):
            saving = is_saving(text, claim)  # "save $3,500" speaks of no price, only of a saving the brief holds
            rivals = [
                key
                for key in rivals
                if (key, claim.kind) not in stated
                and (not saving or holds_saving(index, key))
                and _speaks_of(text, claim, key, index)
            ]
        if rivals:
            report.mismatched.append((claim, rivals))
        else:
            report.unsupported.append(claim)
    misstated_keys = {key for _, keys in report.mismatched for key in keys}
    required = index.required
    for claim, keys in report.agreed if required else ():
        for key in keys:
            if key in required and key not in mentioned and same_value(claim, by_attr[key][0]):
                mentioned.add(key)  # the value's first figure is its head
    for key in brief.required_attributes:
        if key in misstated_keys:  # a required fact stated with a wrong value is missing too
            report.missing.append(key)
            continue
        if key in mentioned:
            continue
        if isinstance(brief.attributes[key], bool):  # a yes/no attribute has no wording to look for
            continue
        if by_attr[key]:
            if not _said_in_words(text, by_attr[key][0], index.key_stems[key]):
                report.missing.append(key)
            continue
        if tokens is None:  # codes count as words here: a required promo code "BITE10"
            tokens = TOKEN_RE.findall(normalise(text))
            token_set = set(tokens)
        if _stem_mentioned(index.stems[key], tokens, token_set):
            continue
        # a textual fact is named by its key too: "no foreign transaction fees" for fees: none
        key_stems = index.key_stems[key]
        if key_stems and _stem_mentioned(key_stems, tokens, token_set):
            continue
        if key in index.nil and any(
            _stem_mentioned((stem,), tokens, token_set) for stem in key_stems if len(stem[0]) >= 4
        ):
            continue  # "No FX fees" names the fees the brief says there are none of
        report.missing.append(key)
    return report


_HALF_RE = re.compile(r"(?<![a-z])half(?:[- ](?:price|off))|полцены|за полцены|вдвое дешевле|половин[а-я]* цены", re.I)


def _said_in_words(text: str, head: Mention, key_stems: tuple[tuple[str, str | None], ...]) -> bool:
    """Is a required figure said in words: a bare number as a number word ("3 for 2": "buy three, pay for
    two"), or a zero price as "free" of what the key names ("first transfer fee: $0": "fee-free")?"""
    if head.kind == "number":
        return any(number_word(w) == head.value for w in WORD_RE.findall(normalise(text)))
    if head.kind == "percent" and head.value == 50 and _HALF_RE.search(text):
        return True
    if head.value == 0 and head.kind in ("money", "percent") and _ZERO_RE.search(text):
        said = WORD_RE.findall(normalise(text))
        return any(_stem_mentioned((stem,), said, set(said)) for stem in key_stems if len(stem[0]) >= 4)
    return False


def _wrong_period(text: str, claim: Mention, agreeing: list[str], index: BriefIndex) -> list[str]:
    """The attributes a claim agrees with in value but not in period ("$0 monthly" for an annual fee)."""
    if claim.kind not in ("money", "percent", "term"):
        return []
    periods = [index.period(key) for key in agreeing]
    if claim.kind == "money":
        periods = [p[len("price per ") :] if p and p.startswith("price per ") else p for p in periods]
    else:
        periods = [None if p and p.startswith("price per ") else p for p in periods]
    if None in periods:  # an attribute without a period agrees whatever the message says
        return []
    said = period_near(text, claim.start, claim.end)
    if said is None or said in periods:
        return []
    return agreeing


def _speaks_of(text: str, claim: Mention, key: str, index: BriefIndex) -> bool:
    """Does a claim of the kind the brief states under ``key`` speak of that fact? It does when its value
    is of the same order (a tenth to ten times: 10,5% for 11,5%, 12 months for 18) or the key is named
    next to it; "87% выпускников" against an installment plan at 0%, or approval "за 1 день" against a
    30-year term, speak of something else: figures the brief does not hold. (The caller has already set
    aside facts the message states rightly elsewhere: "3% on taxis" beside the brief's 7% on cafés.)"""
    facts = index.other if key == "offer" else index.by_attr[key]
    same_kind = [fact for fact in facts if fact.kind == claim.kind]
    if not same_kind and claim.kind not in _SPANS_OF_TIME:
        return True  # the brief's value under another unit ("$5" for a 5% cashback): that fact, misstated
    value = float(claim.value)  # type: ignore[arg-type]  # terms in days: "12 months" is near "1 year"
    for fact in same_kind:
        if value and fact.value and 0.1 <= value / float(fact.value) <= 10:  # type: ignore[arg-type]
            return True
    if key == "offer":
        return False
    stems = index.key_stems[key]
    before, after = clause_around(text, claim.start, claim.end)
    near = WORD_RE.findall(normalise(f"{before} {after}"))  # the words of its clause, a few either side
    return any(len(w) >= 4 and any(same_stem(w, s) for s, _ in stems if len(s) >= 4) for w in near)


_NEXT_WORD_RE = re.compile(r"[\s\u00a0-]*([^\W\d_]+)")


def _same_noun(text: str, claim: Mention, index: BriefIndex) -> list[str]:
    """Attributes a bare number speaks of by name: the word after it shares a stem with the attribute's
    key or with the word after the number in its value ("5 colours" against ``colours: 3``, "ages 12"
    against ``min_age: 13``, "10 ночей" against ``длительность: 7 ночей``)."""
    numbered = index.numbered
    if not numbered:
        return []
    after = _NEXT_WORD_RE.match(text, claim.end)
    window = text[max(0, claim.start - 20) : claim.start]
    # the word before counts unless it is another figure's noun ("20,000 miles = 4 flights": "miles" is 20,000's)
    before = [] if FIGURE_NOUN_RE.search(window) else WORD_RE.findall(normalise(window))
    words = [normalise(after.group(1))] if after else []
    words += before[-1:]
    if not words:
        return []
    found = []
    for key, parts in numbered:
        if any(len(w) >= 3 and w[: min(4, len(p))] == p[: min(4, len(w))] for w in words for p in parts):
            found.append(key)
    return found
