"""The compositional generator: message plans rendered from phrase banks.

A plan (datasets/templates/plans_<lang>.yaml) is a jinja2 text over slots: `{{ s.hook }}`,
`{{ facts.list }}`, `{{ s.cta }}`. Each slot is a bank of wordings (at least four per channel length),
general or per category; each attribute kind has its own bank of noun phrases. Rendering a candidate
draws a plan that fits the channel, the facts to say (the brief's required facts always, others at
random), and one wording per slot and fact, with a seeded generator: the same seed gives the same set.
Grammar (cases, agreement, numerals, articles) comes from orchestrator.phrases, through the context.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator import phrases as ph
from orchestrator.briefs import problems_from
from orchestrator.errors import InputError, Problem
from orchestrator.paths import data_dir
from orchestrator.templates import Candidate
from rules import Brief
from rules.loader import read_yaml

LENGTHS = ("short", "long", "subject")


class Bank(BaseModel):
    """Wordings of one slot or fact, per channel length; a long message may also use short wordings."""

    model_config = ConfigDict(extra="forbid")
    short: list[str] = Field(default_factory=list)
    long: list[str] = Field(default_factory=list)
    say: list[str] = Field(default_factory=list)  # facts only: whole sentences, for `facts.sentences`
    why: list[str] = Field(default_factory=list)  # facts only: what the fact means for the customer, `facts.why`


class PlanSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    text: str
    lengths: list[str] = Field(default_factory=lambda: ["short", "long"])
    facts: tuple[int, int] = (1, 3)
    deadline: bool = False  # the plan says the brief's deadline


class PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str
    channels: dict[str, str]  # channel -> length class
    names: list[str] = Field(default_factory=list)  # first words of product names that keep capitals
    plans: list[PlanSpec]
    slots: dict[str, Bank]
    by_category: dict[str, dict[str, Bank]] = Field(default_factory=dict)
    by_segment: dict[str, dict[str, Bank]] = Field(default_factory=dict)
    by_product: dict[str, dict[str, Bank]] = Field(default_factory=dict)  # added to the category's wordings
    facts: dict[str, Bank]
    shop_categories: list[str] = Field(default_factory=list)


@dataclass
class _Compiled:
    plans: list[tuple[PlanSpec, Wording, int | None]]
    banks: dict[tuple[str, ...], dict[str, list[Wording]]]  # (scope..., name) -> length -> wordings


class _Slots:
    """`s.<name>` in a plan: one wording of that slot, drawn once per message and rendered in context."""

    def __init__(self, gen: Generator, brief: Brief, length: str, ctx: dict[str, Any], rng: random.Random):
        self._gen, self._brief, self._length, self._ctx, self._rng = gen, brief, length, ctx, rng
        self._done: dict[str, str] = {}

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._done:
            self._done[name] = self._gen.render_slot(name, self._brief, self._length, self._ctx, self._rng)
        return self._done[name]


@dataclass
class Facts:
    """The facts one message says, as noun phrases, and their usual arrangements."""

    phrases: list[str]
    language: str
    keys: list[str] = field(default_factory=list)
    says: list[str | None] = field(default_factory=list)  # a sentence wording of each fact, if drawn
    reason: str | None = None  # what one of the facts means for the customer (a `why` wording), if any

    @property
    def n(self) -> int:
        return len(self.phrases)

    @property
    def list(self) -> str:
        return ph.join_list(self.phrases, self.language)

    @property
    def first(self) -> str:
        """The fact that opens a sentence: one without a preposition of its own (else the plan is not used)."""
        return self._ordered()[0]

    @property
    def rest(self) -> str:
        return ph.join_list(self._ordered()[1:], self.language)

    def _ordered(self) -> list[str]:
        lead = [p for p in self.phrases if not ph.starts_with_prep(p, self.language)]
        if not lead:
            raise jinja2.UndefinedError("every fact starts with a preposition; none can open a sentence")
        return [lead[0], *(p for p in self.phrases if p != lead[0])]

    def after(self, word: str) -> str:
        """The list after a preposition ("with {{ facts.after('with') }}"): a fact that starts with a
        preposition of its own ("from 5.5% APR") does not go first; when every fact does, the plan is
        not used for this message."""
        return ph.join_list(self._ordered(), self.language)

    @property
    def lead(self) -> str:
        """The list for the start of a sentence: a fact that opens with a preposition ("на срок 6
        месяцев") does not go first; when every fact does, the plan is not used for this message."""
        return self.after("the start of a sentence")

    @property
    def why(self) -> str:
        """A sentence on what one of the facts gives the customer; the plan is not used when none has one."""
        if not self.reason:
            raise jinja2.UndefinedError("none of the facts has a `why` wording")
        return ph.cap(self.reason) + "."

    @property
    def so(self) -> str:
        """The same, to follow a fact in one sentence: "5% cashback, so {{ facts.so }}"."""
        return self.why[:1].lower() + self.why[1:-1]

    @property
    def sentences(self) -> str:
        says = self.says or [None] * len(self.phrases)
        out = []
        for phrase, say in zip(self.phrases, says, strict=True):
            if say is None and ph.starts_with_prep(phrase, self.language):
                # «Под 14% годовых.» is no sentence: this plan is not used for this message
                raise jinja2.UndefinedError(f"{phrase!r} cannot stand as a sentence")
            out.append(ph.cap(say or phrase) + ".")
        return " ".join(out)


class Generator:
    def __init__(self, spec: PlanFile, compiled: _Compiled, path: str) -> None:
        self.spec, self.compiled, self.path = spec, compiled, path
        self.language = spec.language
        self._names = frozenset(spec.names)

    # --- banks --------------------------------------------------------------------------------
    def wordings(self, name: str, brief: Brief, length: str) -> list[Wording]:
        """The wordings of a slot for this brief and length: its segment's or category's bank if there is
        one, else the general bank, plus its product's wordings (by_product, keyed by the brief's product
        name); a long message draws from the short wordings too."""
        for scope in (("segment", brief.segment), ("category", brief.category), ()):
            bank = self.compiled.banks.get((*scope, name))
            if bank:
                break
        else:
            raise InputError(
                f"{self.path}: plan uses slot {name!r}, which has no bank",
                fix=f"add `{name}:` under `slots:` (or under by_category) with short and long wordings",
            )
        extra = self.compiled.banks.get(("product", brief.product, name), {})
        short = bank.get("short", []) + extra.get("short", [])
        longer = bank.get("long", []) + extra.get("long", [])
        return short + longer if length == "long" else (short or longer)

    def render_slot(self, name: str, brief: Brief, length: str, ctx: dict[str, Any], rng: random.Random) -> str:
        choices = self.wordings(name, brief, length)
        for tpl in rng.sample(choices, len(choices)):
            text = _render(tpl, ctx, f"{self.path}: slot {name}")
            if text:  # an empty rendering ("{% if deadline %}...") means the wording does not fit
                return text
        return ""

    def fact_phrase(
        self, key: str, value: str, length: str, ctx: dict[str, Any], rng: random.Random, form: str = "np"
    ) -> str | None:
        """One wording of a fact: a noun phrase (`short`, and `long` in long messages) or a sentence (`say`)."""
        bank = self.compiled.banks.get(("fact", key))
        if not bank:
            return None
        if form in ("say", "why"):
            choices = bank.get(form, [])
        else:
            choices = bank.get("short", []) + (bank.get("long", []) if length == "long" else [])
        for tpl in rng.sample(choices, len(choices)):
            text = _render(tpl, {**ctx, "v": value}, f"{self.path}: fact {key}")
            if text:  # a wording may render empty ("{% if ... %}") when it does not fit the value
                return text
        return None

    # --- messages -----------------------------------------------------------------------------
    def context(self, brief: Brief) -> dict[str, Any]:
        attrs = {k: str(v) for k, v in brief.attributes.items() if not isinstance(v, bool)}
        lang = self.language
        ctx: dict[str, Any] = {
            "a": attrs,
            "cta": brief.cta or ("Узнайте подробности" if lang == "ru" else "Learn more"),
            "group": "shop" if brief.category in self.spec.shop_categories else "bank",
            "category": brief.category,
            "deadline": attrs.get("deadline"),
        }
        name = brief.product
        if lang == "ru":
            ctx["p"] = {case: ph.lower_first(ph.ru_case(name, case), self._names) for case in ph._RU_CASES}
            ctx["p"]["with"] = ph.ru_with(ctx["p"]["ablt"])
            ctx["agree"] = lambda word, case="nomn": ph.ru_agree(word, name, case)
        else:
            inner = ph.lower_first(name, self._names, names_follow=True)
            plural = ph.en_is_plural(name)
            ctx["p"] = {"name": inner, "the": f"the {inner}", "a": inner if plural else ph.en_a(inner)}
            ctx["is_"] = "are" if plural else "is"
            ctx["it"] = "they" if plural else "it"
        return ctx

    def candidates(self, brief: Brief, count: int, seed: int = 0) -> list[Candidate]:
        """`count` rendered messages for the brief (fewer when no plan fits its channel)."""
        length = self.spec.channels.get(brief.channel, "long")
        base = self.context(brief)
        fitting = [p for p in self.compiled.plans if length in p[0].lengths and (base["deadline"] or not p[0].deadline)]
        if not fitting:
            return []
        rng = random.Random(f"{seed}:{brief.id}")
        out = []
        for _ in range(count):
            spec, tpl, line = rng.choice(fitting)
            facts = self._facts(brief, spec, length, base, rng)
            if facts is None:
                continue
            ctx = {**base, "facts": facts}
            ctx["s"] = _Slots(self, brief, length, ctx, rng)
            text = _render(tpl, ctx, f"{self.path}:{line} plan {spec.id}")
            if text:
                out.append(Candidate(brief.id, f"plan:{spec.id}", spec.id, _tidy(text)))
        return out

    def _facts(
        self, brief: Brief, spec: PlanSpec, length: str, ctx: dict[str, Any], rng: random.Random
    ) -> Facts | None:
        attrs = ctx["a"]
        sayable = [k for k in attrs if ("fact", k) in self.compiled.banks]
        required = [k for k in brief.required_attributes if k in sayable]
        optional = [k for k in sayable if k not in required]
        low, high = spec.facts
        if len(required) > high or len(sayable) < low:
            return None
        k = rng.randint(max(low, len(required)), max(max(low, len(required)), min(high, len(sayable))))
        keys = required + rng.sample(optional, k - len(required))
        rng.shuffle(keys)
        out, says = [], []
        for key in keys:
            phrase = self.fact_phrase(key, attrs[key], length, ctx, rng)
            if phrase is None:
                return None
            out.append(phrase)
            says.append(self.fact_phrase(key, attrs[key], length, ctx, rng, "say") if rng.random() < 0.5 else None)
        explained = [k for k in keys if self.compiled.banks[("fact", k)].get("why")]
        key = rng.choice(explained) if explained else None
        reason = self.fact_phrase(key, attrs[key], length, ctx, rng, "why") if key else None
        return Facts(out, self.language, keys, says, reason)


_VAR = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}")
_SYNTAX = ("{{", "}}", "{%", "%}", "{#", "#}")


class _Simple:
    """A wording that is only text and `{{ name.attr }}` substitutions, rendered without jinja2's context
    machinery (most wordings are; it is most of the rendering time). The lookups are jinja2's: an
    attribute first, then an item; a missing name raises UndefinedError, as StrictUndefined does."""

    def __init__(self, parts: list[str], names: list[list[str]], globals_: dict[str, Any]) -> None:
        self.parts, self.names, self.globals = parts, names, globals_

    @classmethod
    def of(cls, text: str, globals_: dict[str, Any]) -> _Simple | None:
        pieces = _VAR.split(text)
        literal = pieces[0::2]
        if text.endswith("\n") or any(mark in chunk for chunk in literal for mark in _SYNTAX):
            return None
        return cls(literal, [name.split(".") for name in pieces[1::2]], globals_)

    def render(self, ctx: dict[str, Any]) -> str:
        out = [self.parts[0]]
        for path, text in zip(self.names, self.parts[1:], strict=True):
            head = path[0]
            if head in ctx:
                value = ctx[head]
            elif head in self.globals:
                value = self.globals[head]
            else:
                raise jinja2.UndefinedError(f"{head!r} is undefined")
            for attr in path[1:]:
                value = _lookup(value, attr)
            out.append(str(value))
            out.append(text)
        return "".join(out)


Wording = jinja2.Template | _Simple  # a compiled wording


def _lookup(value: Any, attr: str) -> Any:
    try:
        return getattr(value, attr)
    except AttributeError:
        pass
    try:
        return value[attr]
    except (TypeError, LookupError):
        raise jinja2.UndefinedError(f"no attribute {attr!r}") from None


def _render(tpl: Wording, ctx: dict[str, Any], where: str) -> str | None:
    """The rendered text, or None when the wording needs something this brief lacks."""
    try:
        return tpl.render(ctx)
    except jinja2.UndefinedError:
        return None
    except jinja2.TemplateError as exc:
        raise InputError(f"{where} failed to render: {exc}", fix="correct the wording in the YAML file") from None


def _tidy(text: str) -> str:
    """One space between words, none before punctuation, no empty sentences."""
    text = " ".join(text.split())
    for bad, good in ((" .", "."), (" ,", ","), (" :", ":"), (" ?", "?"), (" !", "!"), ("..", "."), (". .", ".")):
        text = text.replace(bad, good)
    return text.strip()


def _environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters.update(
        cap=ph.cap,
        lc=ph.lower_first,
        a=ph.en_a,
        count=ph.ru_count,
        prep=lambda value, prep: ph.with_prep(value, prep, language),
        noun=ph.en_noun,
        plural=ph.en_plural,
    )
    env.globals.update(number=ph.ru_number, en_count=ph.en_count)
    return env


def load_generator(language: str, folder: Path | None = None) -> Generator:
    """The plans and phrase banks of one language; every problem in the file is reported at once."""
    path = (folder or data_dir() / "templates") / f"plans_{language}.yaml"
    data, lines = read_yaml(path)
    try:
        spec = PlanFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: problems in the plans file", problems_from(exc, str(path), None)) from None
    env = _environment(language)
    problems: list[Problem] = []

    def compile_(text: str, where: tuple) -> Wording | None:
        simple = _Simple.of(text, env.globals)
        if simple is not None:
            return simple
        try:
            return env.from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(Problem(f"template syntax: {exc.message} in {text!r}", str(path), lines.get(where)))
            return None

    plans = [(p, compile_(p.text, ("plans", i)), lines.get(("plans", i))) for i, p in enumerate(spec.plans)]
    banks: dict[tuple[str, ...], dict[str, list[Wording]]] = {}
    scoped = [((), spec.slots), *((("fact",), {k: v}) for k, v in spec.facts.items())]
    scoped += [(("category", c), b) for c, b in spec.by_category.items()]
    scoped += [(("segment", s), b) for s, b in spec.by_segment.items()]
    scoped += [(("product", p), b) for p, b in spec.by_product.items()]
    for scope, group in scoped:
        for name, bank in group.items():
            compiled = {
                length: [t for t in (compile_(w, ()) for w in getattr(bank, length)) if t is not None]
                for length in ("short", "long", "say", "why")
            }
            banks[(*scope, name)] = compiled
    if problems:
        raise InputError(f"{path}: {len(problems)} problem(s) in the plans", problems)
    return Generator(spec, _Compiled([(p, t, ln) for p, t, ln in plans if t is not None], banks), str(path))
