"""Compiled checks, one class per rule type. Each is built once from its validated spec and then
run on many messages; the common path (nothing found) stays in C-level string and regex operations.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable
from typing import Any

from mypy_extensions import mypyc_attr

from rules import schema
from rules.brief import Brief, per_brief
from rules.grammar import (
    call_to_action,
    is_common_word,
    lemma,
    obvious_call_to_action,
    sms_segments,
)
from rules.lexicon import Lexicon
from rules.model import Violation
from rules.prefilter import guarded, required_strings
from rules.text import WORD_RE, Context, View, normalise

_PICTOGRAPH = "[\U0001f000-\U0001f1e5\U0001f200-\U0001f3fa\U0001f400-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]"
# One emoji is one user-perceived symbol: a pictograph with its variation selector, skin tone and
# zero-width-joined parts ("👩‍💻", "✈️", "👍🏽"), or a pair of regional indicators (a flag).
EMOJI_RE = re.compile(
    f"{_PICTOGRAPH}\ufe0f?[\U0001f3fb-\U0001f3ff]?(?:\u200d{_PICTOGRAPH}\ufe0f?[\U0001f3fb-\U0001f3ff]?)*"
    "|[\U0001f1e6-\U0001f1ff]{1,2}"
)
_EMOJI_CHAR_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]")
TOKEN_RES: dict[str, re.Pattern[str]] = {
    "exclamation": re.compile("!"),
    "question": re.compile(r"\?"),
    "emoji": EMOJI_RE,
    "digit": re.compile(r"\d"),
    "uppercase_letter": re.compile(r"[A-ZА-ЯЁ]"),
    "word": WORD_RE,
    "ellipsis": re.compile(r"\.\.\.|…"),
}


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Check:
    """Base of every compiled check: the spec's common fields and how a violation is made."""

    def __init__(self, spec: schema.RuleBase, language: str) -> None:
        self.spec: Any = spec  # its rule: each kind of check reads the fields of its own rule type
        self.id = spec.id
        self.category = spec.category
        self.level = spec.level
        self.scope = spec.scope
        self.language = language
        self.channels = frozenset(spec.channels or ())
        self.except_channels = frozenset(spec.except_channels or ())
        self.languages = frozenset(spec.languages or ())

    fallback_to_text = False  # run on the whole text when the message lacks the rule's scope

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        raise NotImplementedError

    respects_names = False  # span checks skip matches inside the brief's product name

    def emit(
        self, out: list[Violation], ctx: Context, start: int, end: int, suggestion: str | None = None, **fields: object
    ) -> None:
        if self.respects_names and ctx.inside_name(start, end):
            return
        matched = ctx.text[start:end]
        suggestion = suggestion or self.spec.suggestion
        message = self.spec.message
        if "{" in message or (suggestion and "{" in suggestion):  # a template to fill
            values = _Fields(match=matched, suggestion=suggestion or "", **fields)
            message = message.format_map(values)
            suggestion = suggestion.format_map(values) if suggestion else None
        out.append(
            Violation(self.id, self.category, self.level, start, end, matched, message, suggestion or None, self.scope)
        )


def _lexicon(entries: Iterable[str | schema.Entry], inflect: bool, language: str) -> Lexicon:
    built: list[tuple[str, str | None, bool]] = []
    for e in entries:
        if isinstance(e, str):
            built.append((e, None, inflect))
        else:
            built.append((e.phrase, e.suggestion, inflect if e.inflect is None else e.inflect))
    return Lexicon.build(built, language)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class LexiconCheck(Check):
    respects_names = True

    def __init__(self, spec: schema.LexiconRule | schema.SubstitutionRule, language: str) -> None:
        super().__init__(spec, language)
        if isinstance(spec, schema.SubstitutionRule):
            entries: list[str | schema.Entry] = [schema.Entry(phrase=k, suggestion=v) for k, v in spec.swap.items()]
        else:
            entries = list(spec.entries)
        self.lexicon = _lexicon(entries, spec.inflect, language)

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if self.lexicon.first_forms.isdisjoint(view.word_set):
            return
        for start, end, phrase in self.lexicon.find(view):
            self.emit(out, ctx, start, end, phrase.suggestion, entry=phrase.source)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class LexiconGroup:
    """Several lexicon checks of one scope answered by one merged lookup (one set test per message
    instead of one per rule). Runs in the pack's plan in place of its members."""

    fallback_to_text = False

    def __init__(self, checks: list[LexiconCheck]) -> None:
        self.checks = checks
        self.scope = checks[0].scope
        self.channels: frozenset[str] = frozenset()
        self.except_channels: frozenset[str] = frozenset()
        self.languages: frozenset[str] = frozenset()
        self.lexicon = Lexicon.merge([c.lexicon for c in checks])

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if self.lexicon.first_forms.isdisjoint(view.word_set):
            return
        for start, end, phrase in self.lexicon.find(view):
            self.checks[phrase.owner].emit(out, ctx, start, end, phrase.suggestion, entry=phrase.source)


def plan(checks: list[Check]) -> list[Check | LexiconGroup]:
    """The order checks run in: lexicon checks without channel or language filters merged per scope."""
    groups: dict[str, list[LexiconCheck]] = {}
    for check in checks:
        if isinstance(check, LexiconCheck) and not check.channels and not check.except_channels and not check.languages:
            groups.setdefault(check.scope, []).append(check)
    out: list[Check | LexiconGroup] = []
    for check in checks:
        members = groups.get(check.scope) if isinstance(check, LexiconCheck) else None
        if members and check in members:
            if check is members[0]:
                out.append(LexiconGroup(members) if len(members) > 1 else check)
            continue
        out.append(check)
    return out


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class PatternCheck(Check):
    respects_names = True

    def __init__(self, spec: schema.PatternRule, language: str) -> None:
        super().__init__(spec, language)
        self.respects_names = spec.names
        self.regex = _join(spec.patterns, re.IGNORECASE if spec.ignorecase else 0)
        self.needs = required_strings(self.regex)

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if not ctx.may_contain(self.needs):
            return
        for m in self.regex.finditer(view.text):
            if m.end() > m.start():
                self.emit(out, ctx, m.start() + view.offset, m.end() + view.offset)


def _join(patterns: list[str], flags: int) -> re.Pattern[str]:
    """One regex for several patterns (one C-level scan instead of one per pattern)."""
    try:
        return guarded(re.compile("|".join(f"(?:{p})" for p in patterns), flags))
    except re.error as exc:
        raise ValueError(
            f"patterns cannot be combined ({exc}); put global flags such as (?m) in their own rule"
        ) from None


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class CountCheck(Check):
    def __init__(self, spec: schema.CountRule, language: str) -> None:
        super().__init__(spec, language)
        self.regex = TOKEN_RES[spec.token] if spec.token else re.compile(spec.pattern or "")
        self.literal = "!" if spec.token == "exclamation" else "?" if spec.token == "question" else None
        self.min, self.max = spec.min, spec.max
        # emoji sequences are found with a slower regex: most texts are rejected by one character class
        self.any = _EMOJI_CHAR_RE if spec.token == "emoji" else self.regex

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if self.literal is not None:
            count = view.text.count(self.literal)
        elif self.any.search(view.text) is None or self.regex.search(view.text) is None:
            count = 0
        elif self.max == 0 and self.min is None:
            count = 1
        else:
            count = len(self.regex.findall(view.text))
        if self.max is not None and count > self.max:
            # one violation per message, at the first token over the limit ("!!!" is one error, not two)
            found = list(self.regex.finditer(view.text))
            m = found[self.max]
            self.emit(out, ctx, m.start() + view.offset, m.end() + view.offset, count=len(found), max=self.max)
        elif self.min is not None and count < self.min:
            self.emit(out, ctx, view.offset, view.offset + len(view.text), count=count, min=self.min)


_WORDLIKE_RE = re.compile(r"(?:[^\W_]|[$€£₽])[^\s]*")  # a word, a number or an amount ("£49", "10%")


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class LengthCheck(Check):
    def __init__(self, spec: schema.LengthRule, language: str) -> None:
        super().__init__(spec, language)
        self.default = (spec.min, spec.max)
        limits = spec.per_channel.items()
        self.per_channel: dict[str, tuple[int | None, int | None]] = {ch: (lim.min, lim.max) for ch, lim in limits}
        self.segments: dict[str, int] = {ch: lim.max_segments for ch, lim in limits if lim.max_segments}

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        max_segments = self.segments.get(ctx.channel or "")
        if max_segments is not None:
            count, encoding = sms_segments(view.text)
            if count > max_segments:
                self.emit(
                    out,
                    ctx,
                    view.offset,
                    view.offset + len(view.text),
                    length=f"{count} SMS segments ({encoding}, {len(view.text)} characters)",
                    max=f"{max_segments} segments",
                    unit="segments",
                    channel=ctx.channel or "",
                )
            return
        low, high = self.per_channel.get(ctx.channel or "", self.default)
        words = self.spec.unit == "words"
        length = len(view.words) if words else len(view.text)
        if words and low is not None and length < low:  # numbers and amounts count as words too ("£49")
            length = len(_WORDLIKE_RE.findall(view.text))
        unit = self.spec.unit
        if high is not None and length > high:
            start = view.spans[min(high, len(view.spans) - 1)][0] if words and view.spans else view.offset + high
            self.emit(
                out,
                ctx,
                start,
                view.offset + len(view.text),
                length=length,
                max=high,
                unit=unit,
                channel=ctx.channel or "",
            )
        elif low is not None and length < low:
            self.emit(
                out,
                ctx,
                view.offset,
                view.offset + len(view.text),
                length=length,
                min=low,
                unit=unit,
                channel=ctx.channel or "",
            )


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class CaseCheck(Check):
    respects_names = True

    def __init__(self, spec: schema.CaseRule, language: str) -> None:
        super().__init__(spec, language)
        short = "|".join(re.escape(w.upper()) for w in spec.shout_short)
        compound = r"[A-ZА-ЯЁ]{2,}(?:-[A-ZА-ЯЁ]{2,})+"  # "TAX-FREE" shouts as its words do
        words = rf"{compound}|[A-ZА-ЯЁ]{{{spec.min_length},}}" + (f"|(?:{short})" if short else "")
        self.regex = guarded(re.compile(rf"(?<![\w\-\[{{%<])(?:{words})(?![\w\-\]}}%>])"))
        self.allow = frozenset(a.upper() for a in spec.allow)
        self.short = frozenset(w.upper() for w in spec.shout_short)
        keyword = spec.keyword_after
        self.keyword = re.compile(rf"(?:{keyword})\W{{0,3}}\Z", re.IGNORECASE) if keyword else None

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        text = view.text
        for m in self.regex.finditer(text):
            word = m.group(0)
            if "-" in word:
                if not any(self._shouting(ctx, part) for part in word.split("-")):
                    continue
            elif not self._shouting(ctx, word):
                continue
            if self.keyword is not None and self.keyword.search(text, max(0, m.start() - 40), m.start()):
                continue  # "Reply STOP", "code WINTER": what the customer types
            self.emit(out, ctx, m.start() + view.offset, m.end() + view.offset)

    def _shouting(self, ctx: Context, word: str) -> bool:
        if len(word) < self.spec.min_length and word not in self.short:
            return False  # a short part of a compound: "USB-C"
        if word in self.allow or (self.spec.allow_brief and normalise(word) in ctx.brief_capitals):
            return False
        return not self.spec.only_words or word in self.short or self._shouts(normalise(word))

    def _shouts(self, word: str) -> bool:
        """A dictionary word in capitals shouts; an unknown token is an acronym or a brand unless long."""
        if is_common_word(word, self.language):
            return True
        return len(word) > self.spec.acronym_max_length


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class _Finder:
    """Lexicon entries and/or regexes: does a view contain any of them, and where first."""

    def __init__(self, entries: list[str], patterns: list[str], inflect: bool, language: str) -> None:
        self.lexicon = _lexicon(entries, inflect, language) if entries else None
        self.regex = _join(patterns, re.IGNORECASE) if patterns else None
        self.needs = required_strings(self.regex) if self.regex is not None else None

    def found(self, ctx: Context, view: View) -> bool:
        if self.lexicon is not None and self.lexicon.contains(view):
            return True
        return self.regex is not None and ctx.may_contain(self.needs) and bool(self.regex.search(view.text))

    def first(self, ctx: Context, view: View) -> tuple[int, int] | None:
        if self.lexicon is not None and not self.lexicon.first_forms.isdisjoint(view.word_set):
            found = self.lexicon.find(view, first_only=True)
            if found:
                return found[0][0], found[0][1]
        if self.regex is not None and ctx.may_contain(self.needs):
            m = self.regex.search(view.text)
            if m:
                return m.start() + view.offset, m.end() + view.offset
        return None


_CTA_WORDS: dict[int, tuple[Brief, list[str]]] = {}  # the words of each brief's call to action


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class RequireCheck(Check):
    def __init__(self, spec: schema.RequireRule, language: str) -> None:
        super().__init__(spec, language)
        self.finder = (
            _Finder(spec.entries, spec.patterns, spec.inflect, language) if spec.entries or spec.patterns else None
        )
        self.not_imperative = frozenset(normalise(w) for w in spec.not_imperative)

    fallback_to_text = True

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if not self._satisfied(ctx, view):
            self.emit(out, ctx, view.offset, view.offset + len(view.text))

    def _satisfied(self, ctx: Context, view: View) -> bool:
        spec = self.spec
        if spec.accept_part and spec.scope != "text" and (getattr(ctx.message, spec.scope, None) or "").strip():
            return True  # a button is the call to action
        quick = None
        if spec.grammar == "cta":
            quick = obvious_call_to_action(view.text, ctx.language, view.words, self.not_imperative, view.word_set)
            if quick:
                return True
        if self.finder is not None and self.finder.found(ctx, view):
            return True
        if spec.accept_brief_cta and ctx.brief is not None and ctx.brief.cta:
            wanted = per_brief(_CTA_WORDS, ctx.brief, lambda b: WORD_RE.findall(normalise(b.cta or "")))
            if wanted and all(w in view.word_set for w in wanted):
                return True
        if spec.grammar != "cta" or quick is False:
            return False
        skip = self.not_imperative
        for _ in range(3):  # a verb-like word of the product's name ("Ridge trail boots") is the name
            found = call_to_action(view.text, ctx.language, view.words, view.spans, skip, view.offset, view.word_set)
            if found is None:
                return False
            word = normalise(ctx.text[found[0] : found[1]])
            if word not in ctx.product_words or not ctx.in_product_name(*found):
                return True
            skip = skip | {word}
        return False


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class ConditionalCheck(Check):
    def __init__(self, spec: schema.ConditionalRule, language: str) -> None:
        super().__init__(spec, language)
        self.when = _Finder(spec.when.entries, spec.when.patterns, spec.when.inflect, language)
        self.require = _Finder(spec.require.entries, spec.require.patterns, spec.require.inflect, language)

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        trigger = self.when.first(ctx, view)
        if trigger is not None and not self.require.found(ctx, view):
            self.emit(out, ctx, *trigger)


_RUN_GAP = " \t\u00a0,.;:!?—–-"  # what may stand between a phrase and its repeat


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class RepetitionCheck(Check):
    respects_names = True

    def __init__(self, spec: schema.RepetitionRule, language: str) -> None:
        super().__init__(spec, language)
        word = rf"(?:[^\W\d_]+-)*[^\W\d_]{{{spec.min_length},}}"  # "easy-access easy-access" too
        self.regex = re.compile(rf"(?<![\w-])({word})[ \t\u00a0,]+\1(?![\w-])")
        self.allow = frozenset(normalise(a) for a in spec.allow)
        self.joiners = frozenset(normalise(j) for j in spec.joiners)
        # a phrase of two or three words said twice around a joiner ("new plans and new plans")
        joined = "|".join(sorted(map(re.escape, self.joiners)))
        word, gap = r"[^\W\d_]+", r"[ \t\u00a0]+"
        phrase = rf"({word}(?:{gap}{word}){{1,2}})"
        self.joined = re.compile(rf"(?<![\w-]){phrase},?{gap}(?:{joined}){gap}\1(?![\w-])") if joined else None

    def run(self, ctx: Context, view: View, out: list[Violation]) -> None:
        if self.spec.lemmas and self.language == "ru":
            self._lemmas(ctx, view, out)
        if len(view.word_set) == len(view.words):  # no word occurs twice
            return
        words = view.words
        if self.joined is not None and not self.joiners.isdisjoint(view.word_set):
            self._joined(ctx, view, out)
        if self.spec.phrases:
            self._runs(ctx, view, out)
        if not any(map(operator.eq, words, words[1:])):  # no word right after itself (compared in C)
            return
        for m in self.regex.finditer(view.norm):
            if m.group(1) not in self.allow:
                self.emit(out, ctx, m.start() + view.offset, m.end() + view.offset, word=m.group(1))

    def _runs(self, ctx: Context, view: View, out: list[Violation]) -> None:
        """Two or more words said twice in a row, with only spaces or punctuation between: "на все на все",
        "Order your card. Order your card." (the whole stretch repeats, figures included). Only where a
        pair of words recurs within eight words is a repeat looked for."""
        words = view.words
        pairs = list(itertools.pairwise(words))
        if len(set(pairs)) == len(pairs):  # no two words in a row occur twice
            return
        where: dict[tuple[str, str], list[int]] = {}
        for i, pair in enumerate(pairs):
            where.setdefault(pair, []).append(i)
        starts = sorted((i, j) for found in where.values() if len(found) > 1 for i, j in itertools.pairwise(found))
        spans, norm, offset, taken = view.spans, view.norm, view.offset, -1
        for i, j in starts:
            k = j - i
            if i <= taken or not 2 <= k <= 8 or words[i:j] != words[j : j + k]:
                continue
            first, second = spans[i][0] - offset, spans[j][0] - offset
            chunk = norm[first:second].rstrip(_RUN_GAP)
            if norm.startswith(chunk, second):
                self.emit(out, ctx, first + offset, second + len(chunk) + offset, word=chunk)
                taken = j + k - 1
                continue
            # the repeat may open with a figure, which is no word: "$289 a month for 36 months, $289 a month
            # for 36 months" (the words repeat from "a"; the figure stands before each run)
            core = norm[first : spans[j - 1][1] - offset]
            lead = norm[first + len(core) : second].strip(_RUN_GAP)
            if lead and norm[:first].rstrip(_RUN_GAP).endswith(lead) and norm.startswith(core, second):
                begin = norm.rfind(lead, 0, first)
                self.emit(out, ctx, begin + offset, second + len(core) + offset, word=lead + " " + core)
                taken = j + k - 1

    def _joined(self, ctx: Context, view: View, out: list[Violation]) -> None:
        """A phrase said twice around a joiner: the words are compared first, the regex confirms the gaps."""
        words, joiners, joined, taken = view.words, self.joiners, self.joined, -1
        assert joined is not None  # run calls this only for a rule with joiners
        for j in range(2, len(words) - 2):
            if words[j] not in joiners:
                continue
            for k in (3, 2):  # the longer phrase first, as the regex would
                if j - k > taken and words[j - k : j] == words[j + 1 : j + 1 + k]:
                    m = joined.match(view.norm, view.spans[j - k][0] - view.offset)
                    if m is not None:
                        self.emit(out, ctx, m.start() + view.offset, m.end() + view.offset, word=m.group(1))
                        taken = j + k
                        break

    def _lemmas(self, ctx: Context, view: View, out: list[Violation]) -> None:
        """Two different forms of one Russian word in a row, with only spaces or a comma between."""
        words = view.words
        lemmas = list(map(lemma, words))  # cached per word: a dictionary lookup each, in C
        if not any(map(operator.eq, lemmas, lemmas[1:])):
            return
        spans, text = view.spans, ctx.text
        for i in range(len(words) - 1):
            a, b = words[i], words[i + 1]
            if a == b or len(a) < 3 or len(b) < 3 or lemmas[i] != lemmas[i + 1] or a in self.allow:
                continue
            if text[spans[i][1] : spans[i + 1][0]].strip(" \t\u00a0,"):
                continue
            self.emit(out, ctx, spans[i][0], spans[i + 1][1], word=a)
