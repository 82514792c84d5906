"""Compiled checks that look at the whole message: alphabets and language, facts against the brief,
template slots, phrase patterns and custom Python rules; and the map from a rule's spec to its check.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mypy_extensions import mypyc_attr

from rules import schema
from rules.brief import Brief, per_brief
from rules.checks import (
    CaseCheck,
    Check,
    ConditionalCheck,
    CountCheck,
    LengthCheck,
    LexiconCheck,
    PatternCheck,
    RepetitionCheck,
    RequireCheck,
    _join,
)
from rules.grammar import ENGLISH_FUNCTION_WORDS, english_word
from rules.model import Violation
from rules.phrases import PhraseSet
from rules.prefilter import required_strings
from rules.text import CYRILLIC_RE, LATIN_RE, TOKEN_RE, WORD_RE, Context, View, normalise

if TYPE_CHECKING:
    from rules.facts import FactsReport

_ACRONYM_RE = re.compile(r"\b[A-Z]{2,}\b|\S+\.(?:com|ru|org|net|io|co|uk)\b")
_NAME_WORD_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")  # capitalised inside a sentence: names
# Only a text with letters English rarely uses, or with common Spanish / French / German / Italian
# function words, is looked up word by word (the common path is one set test).
_NON_ENGLISH_LETTERS = re.compile(r"[áéíóúñ¿¡àâçèêëîïôûùüœäößìò]", re.IGNORECASE)
_NON_ENGLISH_WORDS = frozenset(
    [
        "el",
        "los",
        "las",
        "del",
        "con",
        "para",
        "por",
        "tu",
        "une",
        "les",
        "des",
        "du",
        "et",
        "vous",
        "votre",
        "nous",
        "avec",
        "pour",
        "sur",
        "der",
        "die",
        "das",
        "und",
        "mit",
        "für",
        "che",
        "kostenlos",
        "jetzt",
        "sie",
        "ihre",
        "bis",
        "zu",
        "von",
        "auf",
        "nur",
        "noch",
        "oder",
        "mehr",
        "unser",
        "unsere",
        "rabatt",
        "angebot",
        "notre",
        "nos",
        "vos",
        "maintenant",
        "jusqu'à",
        "della",
        "sconto",
        "offerta",
        "ahora",
        "descuento",
        "oferta",
        "chez",
        "gratuit",
        "gratuite",
        "gratis",
        "aujourd'hui",
        "hoy",
        "tienda",
    ]
)


def _maybe_foreign(view: View) -> bool:
    if not _NON_ENGLISH_WORDS.isdisjoint(view.word_set):
        return True
    return not view.text.isascii() and _NON_ENGLISH_LETTERS.search(view.text) is not None


_MIXED_PAIR = re.compile(r"[A-Za-z][А-Яа-яЁё]|[А-Яа-яЁё][A-Za-z]")


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class ScriptCheck(Check):
    def __init__(self, spec: schema.ScriptRule, language: str) -> None:
        super().__init__(spec, language)
        self.allow = frozenset(normalise(a) for a in spec.allow)
        self.foreign_letters = frozenset(normalise(spec.foreign_letters))
        # both cases spelled out: a case-sensitive character set is searched about twice as fast
        both = "".join(sorted({c for letter in spec.foreign_letters for c in (letter.lower(), letter.upper())}))
        self.foreign_letters_re = re.compile(f"[{re.escape(both)}]") if spec.foreign_letters else None

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if self.spec.check == "mixed":
            self._mixed(ctx, view, out)
        else:
            self._language(ctx, view, out)

    def _mixed(self, ctx: Context, view: View, out: list[Violation]) -> None:
        # both alphabets must occur somewhere before a word can mix them (two cheap charset scans)
        if not LATIN_RE.search(view.text) or not CYRILLIC_RE.search(view.text) or not _MIXED_PAIR.search(view.text):
            return
        for m in TOKEN_RE.finditer(view.text):  # codes and sizes too: "1ТB" with a Cyrillic Т
            token = m.group(0)
            if _MIXED_PAIR.search(token) and normalise(token) not in self.allow:
                self.emit(out, ctx, m.start() + view.offset, m.end() + view.offset)

    def _language(self, ctx: Context, view: View, out: list[Violation]) -> None:
        foreign_re, foreign_first, native_first = (
            (LATIN_RE, _LATIN, _CYRILLIC) if ctx.language == "ru" else (CYRILLIC_RE, _CYRILLIC, _LATIN)
        )
        hint = self.spec.dictionary and ctx.language == "en" and _maybe_foreign(view)
        found = self.foreign_letters_re is not None and self.foreign_letters_re.search(view.text) is not None
        letters = self.foreign_letters if found else None
        if (
            not hint
            and not letters
            and ((foreign_re is CYRILLIC_RE and view.text.isascii()) or not foreign_re.search(view.text))
        ):
            return  # (an ASCII text holds no Cyrillic letter: known without a scan)
        known = self.allow if ctx.brief is None else self.allow | _brief_words(ctx.brief)
        foreign = native = lettered = 0
        dictionary = hint
        names = (
            {normalise(w) for w in _NAME_WORD_RE.findall(view.text) + _ACRONYM_RE.findall(view.text)}
            if dictionary
            else set()
        )
        mixed = _MIXED_PAIR.search(view.text) is not None
        for word in view.words:
            if word in known or (mixed and _MIXED_PAIR.search(word)):  # a homoglyph is a typography slip
                continue
            if letters and not letters.isdisjoint(word):  # "відкрийте": a letter Russian never writes
                foreign += 1
                lettered += 1
                continue
            first = word[0]  # the alphabet a word is counted in is its first letter's
            if first in foreign_first:
                foreign += 1
            elif first in native_first:
                if dictionary and word not in names and len(word) > 1 and not english_word(word.replace("'", "")):
                    foreign += 1
                else:
                    native += 1
        if lettered >= 2 or (foreign and native / (native + foreign) < self.spec.min_share):
            self.emit(out, ctx, view.offset, view.offset + len(view.text), language=ctx.language)


# The letters of LATIN_RE and CYRILLIC_RE, for one-character tests.
_LATIN = frozenset(map(chr, [*range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1)]))
_CYRILLIC = frozenset(map(chr, [*range(ord("А"), ord("я") + 1), ord("Ё"), ord("ё")]))
_BRIEF_WORDS: dict[int, tuple[Brief, frozenset[str]]] = {}


def _brief_words(brief: Brief) -> frozenset[str]:
    """The words of a brief's product name and keywords, normalised; once per brief object."""
    return per_brief(
        _BRIEF_WORDS, brief, lambda b: frozenset(WORD_RE.findall(normalise(" ".join([b.product, *b.keywords]))))
    )


_NOT_BASIS = ENGLISH_FUNCTION_WORDS | {"для", "при", "без", "под", "над", "или", "как", "все", "всё", "это", "plus"}


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class FactsCheck(Check):
    def __init__(self, spec: schema.FactsRule, language: str) -> None:
        super().__init__(spec, language)
        # what is no claim, as one regex tried only where a string it needs occurs ("24/7", "#1")
        self.ignore = [_join(spec.ignore, re.IGNORECASE)] if spec.ignore else []
        self.ignore_needs = required_strings(self.ignore[0]) if self.ignore else None
        self.key = "facts:" + "|".join(spec.ignore)
        self._keys_re = re.compile(spec.basis_keys or "(?!)", re.IGNORECASE)
        self._basis_re = _join(spec.basis, re.IGNORECASE) if spec.basis else re.compile("(?!)")
        self._rates: dict[int, tuple[Brief, frozenset[str]]] = {}  # per brief: its rates' keys

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if ctx.brief is None:
            return
        report: FactsReport | None = ctx.cache.get(self.key)
        if report is None:
            from rules.facts import analyse  # the facts analysis is loaded by the first message with a brief

            ignore = self.ignore if self.ignore and ctx.may_contain(self.ignore_needs) else []
            report = ctx.cache[self.key] = analyse(ctx.text, ctx.brief, ignore, ctx.text_view.words)
        kind = self.spec.check
        if kind == "basis":
            self._basis(ctx, report, out)
        elif kind == "mismatch":
            for claim, rivals in report.mismatched:
                values = ", ".join(f"{k}={ctx.brief.attributes.get(k, ctx.brief.offer)}" for k in rivals)
                self.emit(out, ctx, claim.start, claim.end, attributes=values)
        elif kind == "unsupported":
            for claim in report.unsupported:
                self.emit(out, ctx, claim.start, claim.end)
        else:
            end = len(ctx.text)
            for key in report.missing:
                self.emit(out, ctx, 0, end, attribute=key, value=ctx.brief.attributes[key])

    def _basis(self, ctx: Context, report: FactsReport, out: list[Violation]) -> None:
        """A rate the brief states (a key such as ``rate`` or ``apr``) needs its basis in the text."""
        percents = [(claim, keys) for claim, keys in report.agreed if claim.kind == "percent"]
        if not percents or self._basis_re.search(ctx.text):
            return
        assert ctx.brief is not None
        rates = per_brief(self._rates, ctx.brief, self._rate_keys)
        for claim, keys in percents:
            rate_keys = [k for k in keys if k in rates]
            if rate_keys and not self._brief_basis(ctx, rate_keys):
                self.emit(out, ctx, claim.start, claim.end, attributes=", ".join(keys))
                return

    def _rate_keys(self, brief: Brief) -> frozenset[str]:
        """The brief's rates: named so by their key ("ставка", "APR"), or by the brief's own wording of the
        value ("автокредит: от 5,9% годовых")."""
        return frozenset(
            k for k, v in brief.attributes.items() if self._keys_re.search(k) or self._basis_re.search(str(v))
        )

    @staticmethod
    def _brief_basis(ctx: Context, keys: list[str]) -> bool:
        """Does the text give the rate with the brief's own wording of its basis ("4.35% fixed")?"""
        assert ctx.brief is not None
        said = ctx.text_view.word_set
        wordings = per_brief(_BASIS_WORDS, ctx.brief, _basis_words)
        return any(wordings.get(key) and all(_said(w, said) for w in wordings[key]) for key in keys)


def _said(word: str, said: set[str]) -> bool:
    """The word or another form of it ("fixed" / "fix", "годовых" / "годовая")."""
    if word in said:
        return True
    stem = word[: max(3, len(word) - 2)]
    return any(w.startswith(stem) for w in said)


_BASIS_WORDS: dict[int, tuple[Brief, dict[str, frozenset[str]]]] = {}


def _basis_words(brief: Brief) -> dict[str, frozenset[str]]:
    """Per attribute, the words of its value besides figures, units and function words ("fixed")."""
    from rules.numbers import mentions

    found = {}
    for key, value in brief.attributes.items():
        text = str(value)
        for m in reversed(mentions(text)):  # the figures and their units ("15 months") are not a basis
            text = text[: m.start] + " " + text[m.end :]
        found[key] = frozenset(w for w in WORD_RE.findall(normalise(text)) if len(w) >= 3 and w not in _NOT_BASIS)
    return found


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class PlaceholderCheck(Check):
    def __init__(self, spec: schema.PlaceholderRule, language: str) -> None:
        super().__init__(spec, language)
        self.regex = _join(spec.patterns, 0)
        self.needs = required_strings(self.regex)

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if not ctx.may_contain(self.needs):
            return
        for m in self.regex.finditer(view.text):
            self.emit(out, ctx, m.start() + view.offset, m.end() + view.offset)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class PhrasesCheck(Check):
    respects_names = True

    def __init__(self, spec: schema.PhrasesRule, language: str) -> None:
        super().__init__(spec, language)
        self.phrases = PhraseSet.build(spec.patterns, spec.inflect, language)

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        for start, end, pattern in self.phrases.find(view):
            self.emit(out, ctx, start, end, pattern=pattern.source)


CustomRule = Callable[[str, Any, dict], Iterable[tuple]]


def resolve_function(name: str) -> CustomRule:
    """An ``adsft.rules`` entry point by name, or ``module:callable``."""
    from importlib.metadata import entry_points  # a cold start without custom rules never needs it

    for ep in entry_points(group="adsft.rules"):
        if ep.name == name:
            return ep.load()
    module, _, attr = name.partition(":")
    if not attr:
        raise ValueError(f"{name!r} is neither an `adsft.rules` entry point nor `module:callable`")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import custom rule {name!r}: {exc}") from None


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class PythonCheck(Check):
    """A custom rule: ``fn(text, brief, options)`` yields (start, end) or (start, end, message)."""

    def __init__(self, spec: schema.PythonRule, language: str) -> None:
        super().__init__(spec, language)
        self.function = resolve_function(spec.function)

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        for found in self.function(view.text, ctx.brief, self.spec.options) or ():
            start, end = found[0] + view.offset, found[1] + view.offset
            self.emit(out, ctx, start, end)
            if len(found) > 2 and found[2]:
                last = out[-1]
                out[-1] = Violation(
                    last.rule,
                    last.category,
                    last.level,
                    last.start,
                    last.end,
                    last.text,
                    str(found[2]),
                    last.suggestion,
                    last.scope,
                )


CHECKS: dict[type, type[Check]] = {
    schema.LexiconRule: LexiconCheck,
    schema.SubstitutionRule: LexiconCheck,
    schema.PatternRule: PatternCheck,
    schema.CountRule: CountCheck,
    schema.LengthRule: LengthCheck,
    schema.CaseRule: CaseCheck,
    schema.RequireRule: RequireCheck,
    schema.ConditionalRule: ConditionalCheck,
    schema.RepetitionRule: RepetitionCheck,
    schema.ScriptRule: ScriptCheck,
    schema.FactsRule: FactsCheck,
    schema.PlaceholderRule: PlaceholderCheck,
    schema.PhrasesRule: PhrasesCheck,
    schema.PythonRule: PythonCheck,
}


def compile_rule(spec: schema.RuleBase, language: str) -> Check:
    try:
        return CHECKS[type(spec)](spec, language)
    except re.error as exc:
        raise ValueError(f"bad regular expression: {exc}") from None
