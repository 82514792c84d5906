"""A loaded rule pack: its compiled checks, and ``check`` — the one entry point for checking text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from mypy_extensions import mypyc_attr

from rules import schema
from rules.brief import Brief
from rules.checks import Check, plan
from rules.model import CheckResult, Message, Violation
from rules.text import Context, normalise

_ORDER = attrgetter("start", "end", "rule")


@dataclass(frozen=True)
class ExampleFailure:
    rule: str
    expected_match: bool
    example: str
    found: list[Violation]


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class RulePack:
    def __init__(self, info: schema.PackInfo, checks: list[Check], path: Path | None = None) -> None:
        self.info = info
        self.id = info.id
        self.language = info.language
        self.path = path
        self.checks = checks
        self._by_id = {c.id: c for c in checks}
        self._plan = plan(checks)
        self._plans: dict[tuple[str | None, str], tuple[tuple, tuple]] = {}
        self._names = tuple(info.names)
        self._terms = tuple(normalise(t) for t in info.terms)
        self._unless = {c.id: frozenset(c.spec.unless) for c in checks if c.spec.unless}
        self._rank = {category: i for i, category in enumerate(info.precedence)}

    def __repr__(self) -> str:
        return f"RulePack({self.id!r}, {len(self.checks)} rules)"

    @property
    def rules(self) -> list[schema.RuleBase]:
        return [c.spec for c in self.checks]

    def rule(self, rule_id: str) -> schema.RuleBase:
        return self._by_id[rule_id].spec

    def check(
        self, message: str | Message | dict, brief: Brief | None = None, channel: str | None = None
    ) -> CheckResult:
        """Check one message (a string or a title/body/cta record) against every rule of the pack."""
        msg = Message.of(message)
        ctx = Context(msg, brief, self.language, channel, self._names, self._terms)
        text_view = ctx.text_view
        out: list[Violation] = []
        on_text, on_parts = self._plan_for(ctx.channel, ctx.language)
        for run in on_text:
            run(ctx, text_view, out)
        for run, scope, fallback in on_parts:
            view = ctx.view(scope)
            if view is None:
                if not fallback:
                    continue
                view = text_view
            run(ctx, view, out)
        if len(out) > 1:
            out = self._settle(out)
        if self._unless and out:
            found = {v.category for v in out if v.level == "error"}
            out = [v for v in out if not found.intersection(self._unless.get(v.rule, ()))]
        return CheckResult(ctx.text, out)

    def _settle(self, found: list[Violation]) -> list[Violation]:
        """Sorted, each violation once, and one category per span: where spans of ranked categories
        overlap, the longer span stays ("в кратчайшие сроки" is a cliché, not a superlative); of two
        spans as long, the more specific category (first in the pack's ``precedence``)."""
        found.sort(key=_ORDER)
        unique = [v for i, v in enumerate(found) if i == 0 or v != found[i - 1]]
        rank = self._rank
        if not rank:
            return unique
        ranked = [v for v in unique if v.category in rank]
        if len(ranked) < 2:
            return unique
        reach = -1  # the spans are sorted by start: does any begin before an earlier one ends?
        for v in ranked:
            if v.start < reach:
                break
            reach = max(reach, v.end)
        else:
            return unique

        def beaten(v: Violation) -> bool:
            size = v.end - v.start
            return any(
                o.category != v.category
                and o.start < v.end
                and v.start < o.end
                and (o.end - o.start, -rank[o.category]) > (size, -rank[v.category])
                for o in ranked
            )

        return [v for v in unique if v.category not in rank or not beaten(v)]

    def _plan_for(
        self, channel: str | None, language: str
    ) -> tuple[tuple[Callable, ...], tuple[tuple[Callable, str, bool], ...]]:
        """The checks that apply to a channel and language: those of the whole text (their runs), and
        the others as (run, scope, fall back to the text). The order they run in changes no result:
        violations are sorted once all have run."""
        key = (channel, language)
        found = self._plans.get(key)
        if found is None:
            chosen = [
                c
                for c in self._plan
                if (not c.channels or channel in c.channels)
                and channel not in c.except_channels
                and (not c.languages or language in c.languages)
            ]
            found = self._plans[key] = (
                tuple(c.run for c in chosen if c.scope == "text"),
                tuple((c.run, c.scope, c.fallback_to_text) for c in chosen if c.scope != "text"),
            )
        return found

    def test_examples(self) -> tuple[int, list[ExampleFailure]]:
        """Run every rule's examples; return how many ran and the ones that failed."""
        failures: list[ExampleFailure] = []
        ran = 0
        for check in self.checks:
            for expected, cases in ((True, check.spec.examples.match), (False, check.spec.examples.no_match)):
                for case in cases:
                    ran += 1
                    message, brief, channel = self._example(case)
                    found = [v for v in self.check(message, brief, channel).violations if v.rule == check.id]
                    if bool(found) != expected:
                        failures.append(ExampleFailure(check.id, expected, Message.of(message).text, found))
        return ran, failures

    def _example(self, case: schema.Example) -> tuple[Message, Brief | None, str | None]:
        if isinstance(case, str):
            return Message(body=case), None, None
        body = case.body if case.body is not None else case.text or ""
        message = Message(body=body, title=case.title, cta=case.cta, channel=case.channel)
        brief = None
        if case.brief is not None:
            defaults = {
                "id": "example",
                "language": self.language,
                "channel": case.channel or "push",
                "product": "product",
                "category": "example",
            }
            brief = Brief(**{**defaults, **case.brief})
        return message, brief, case.channel
