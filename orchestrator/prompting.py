"""The prompt: one jinja2 template (datasets/templates/prompt.yaml) turns a brief into the system and
user messages. Training examples and scoring requests are both built here, so they never drift apart."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
import yaml

from orchestrator.errors import InputError
from orchestrator.paths import data_dir
from rules import Brief, RulePack

Chat = list[dict[str, str]]


@cache
def _prompt(path: Path) -> dict[str, dict[str, jinja2.Template]]:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {part: {lang: env.from_string(text) for lang, text in raw[part].items()} for part in ("system", "user")}
    except (OSError, yaml.YAMLError, KeyError, TypeError, jinja2.TemplateSyntaxError) as exc:
        raise InputError(
            f"cannot load the prompt template {path}: {exc}",
            fix="it needs `system` and `user`, each with `ru` and `en` jinja2 texts",
        ) from None


def channel_limit(pack: RulePack | None, channel: str) -> int | None:
    """The character limit a pack's whole-text length rules set for a channel (the smallest), if any."""
    if pack is None:
        return None
    limits = []
    for spec in pack.rules:
        if getattr(spec, "type", None) == "length" and spec.scope == "text" and spec.unit == "chars":  # type: ignore[attr-defined]
            limit = spec.per_channel.get(channel)  # type: ignore[attr-defined]
            value = limit.max if limit is not None else spec.max  # type: ignore[attr-defined]
            if value:
                limits.append(value)
    return min(limits) if limits else None


def build_prompt(brief: Brief, pack: RulePack | None = None, path: Path | None = None) -> Chat:
    """The system + user messages for a brief."""
    templates = _prompt(path or data_dir() / "templates" / "prompt.yaml")
    context = {**brief.model_dump(), "limit": channel_limit(pack, brief.channel)}
    return [
        {"role": "system", "content": templates["system"][brief.language].render(context).strip()},
        {"role": "user", "content": templates["user"][brief.language].render(context).strip()},
    ]
