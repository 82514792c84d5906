"""The message template library: jinja2 templates that turn a brief into candidate messages.

Templates live in datasets/templates/messages_<lang>.yaml; how each attribute is worded lives in
facts.yaml. A template renders for a brief only when the brief has what it needs (enough worded
facts, a deadline); a template that fails to render is an error naming its file and line.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.briefs import problems_from
from orchestrator.errors import InputError, Problem
from orchestrator.paths import data_dir
from rules import Brief
from rules.loader import read_yaml

_NOT_FACTS = {"deadline", "cashback_on"}  # said through other phrases


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    structure: str
    text: str
    facts: int = Field(default=1, ge=0, le=5)
    deadline: bool = False
    channels: list[str] | None = None


@dataclass(frozen=True)
class Template:
    spec: TemplateSpec
    compiled: jinja2.Template
    file: str
    line: int | None


@dataclass(frozen=True)
class Candidate:
    brief_id: str
    template_id: str
    structure: str
    text: str


@dataclass
class Library:
    language: str
    templates: list[Template]
    wording: dict[str, Any] = field(default_factory=dict)

    def candidates(self, brief: Brief, variants: int = 6, seed: int = 0) -> list[Candidate]:
        """Every template rendered for this brief in up to `variants` wordings (hook, fact order and
        wording, where, CTA tail), the wordings drawn with a seed so runs repeat exactly."""
        contexts = list(self._contexts(brief))
        rng = random.Random(f"{seed}:{brief.id}")
        chosen = contexts[:1] + rng.sample(contexts[1:], min(len(contexts) - 1, max(0, variants - 1)))
        out: list[Candidate] = []
        for ctx in chosen:
            for tpl in self.templates:
                spec = tpl.spec
                if spec.channels and brief.channel not in spec.channels:
                    continue
                if len(ctx["f"]) < spec.facts or (spec.deadline and not ctx["deadline"]):
                    continue
                try:
                    text = tpl.compiled.render(ctx)
                except jinja2.TemplateError as exc:
                    raise InputError(
                        f"template {spec.id} failed to render for brief {brief.id}",
                        [Problem(str(exc), tpl.file, tpl.line, spec.id)],
                        fix="correct the template or the fact wording it uses",
                    ) from None
                out.append(Candidate(brief.id, spec.id, spec.structure, " ".join(text.split())))
        return out

    def _facts(self, brief: Brief, style: str, pick: int = 0) -> list[str]:
        table = self.wording[self.language]
        attrs = {k: str(v) for k, v in brief.attributes.items() if not isinstance(v, bool)}
        keys = [k for k in brief.required_attributes if k in attrs]
        keys += [k for k in attrs if k not in keys]
        phrases = []
        for key in keys:
            if key in _NOT_FACTS or key not in table:
                continue
            entry = table[key]
            valid = []
            for variant in entry.get(style) or entry["phrase"]:
                try:
                    valid.append(variant.format(**attrs))
                except KeyError:
                    continue
            if valid:
                phrases.append(valid[pick % len(valid)])
        return phrases

    def _contexts(self, brief: Brief):
        lang = self.language
        w = self.wording
        group = "shop" if brief.category in w["shop_categories"] else "bank"
        deadline = brief.attributes.get("deadline")
        base = {
            "product": brief.product,
            "product_lc": _lower_first(brief.product),
            "address": w["segments"][lang].get(brief.segment, ""),
            "deadline": (("до " if lang == "ru" else "until ") + str(deadline)) if deadline else None,
        }
        cta = brief.cta or ("Узнайте подробности" if lang == "ru" else "Learn more")
        hooks = w["hooks"][lang].get(brief.category) or [""]
        wheres = w["where"][lang][group]
        tails = w["cta_tail"][lang]
        required = len([k for k in brief.required_attributes if k in brief.attributes])
        head = max(1, required)
        for pick in (0, 1):
            f, nf = self._facts(brief, "phrase", pick), self._facts(brief, "number_first", pick)
            orders = [list(range(len(f)))]
            if len(f) > head:  # vary the optional facts' order; required facts stay first
                rest = list(range(head, len(f)))
                orders.append(list(range(head)) + rest[::-1])
            for hook, order, where, tail in itertools.product(hooks, orders, wheres, tails):
                yield {
                    **base,
                    "hook": hook,
                    "where": where,
                    "cta": cta + tail,
                    "f": [f[i] for i in order],
                    "nf": [nf[i] for i in order],
                }


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym or a brand (two capitals)."""
    first = text.split(" ", 1)[0]
    if sum(c.isupper() for c in first) > 1:
        return text
    return text[:1].lower() + text[1:]


def load_library(language: str, folder: Path | None = None) -> Library:
    folder = folder or data_dir() / "templates"
    path = folder / f"messages_{language}.yaml"
    data, lines = read_yaml(path)
    wording, _ = read_yaml(folder / "facts.yaml")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["cap"] = _cap
    env.filters["lower_first"] = _lower_first
    problems: list[Problem] = []
    templates: list[Template] = []
    for i, raw in enumerate((data or {}).get("templates") or []):
        line = lines.get(("templates", i))
        try:
            spec = TemplateSpec.model_validate(raw)
            templates.append(Template(spec, env.from_string(spec.text), str(path), line))
        except ValidationError as exc:
            problems.extend(problems_from(exc, str(path), line))
        except jinja2.TemplateSyntaxError as exc:
            problems.append(Problem(f"template syntax: {exc.message}", str(path), line))
    if problems:
        raise InputError(f"{path}: {len(problems)} problem(s) in the templates", problems)
    if not templates:
        raise InputError(f"{path} holds no templates", fix="add a `templates:` list")
    return Library(language, templates, wording)
