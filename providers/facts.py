"""What adsft needs to know about each provider without talking to it: how its training is billed, which
dataset formats and example counts it accepts, its default model. Data, in one place, so that nothing
outside `providers/` branches on a provider's name. No SDK is imported here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from orchestrator.errors import InputError


@dataclass(frozen=True)
class ProviderFacts:
    name: str
    default_model: str
    # tokens_capped: each example up to the model's limit x epochs, validation free (OpenAI)
    # tokens_processed: epochs x training + evaluations x validation tokens (Together)
    # gpu_hours: tokens / throughput x $/GPU-hour (a local GPU)
    billing: Literal["tokens_capped", "tokens_processed", "gpu_hours"]
    auto_epochs: Literal["cookbook", "one", "three"]
    price_method: Literal["sft", "sft_by_method", "gpu_hour"]  # which catalog entry prices training
    scoring_price_method: Literal["sft", "inference"] | None  # which entry holds inference prices
    min_examples: int
    formats: frozenset[str]  # conversation | instruction | general
    alternation: Literal["error", "warning"]  # roles that do not alternate
    model_pattern: str  # model ids this provider is assumed for, when --model names no provider


FACTS: dict[str, ProviderFacts] = {
    "openai": ProviderFacts(
        "openai",
        "gpt-4o-mini-2024-07-18",
        "tokens_capped",
        "cookbook",
        "sft",
        "sft",
        10,
        frozenset({"conversation"}),
        "warning",
        r"(ft:)?(gpt-|o1|o3|o4)",
    ),
    "together": ProviderFacts(
        "together",
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "tokens_processed",
        "one",
        "sft_by_method",
        "inference",
        1,
        frozenset({"conversation", "instruction", "general"}),
        "error",
        r".*",
    ),
    "local": ProviderFacts(
        "local",
        "Llama-3.2-1B",
        "gpu_hours",
        "three",
        "gpu_hour",
        None,
        1,
        frozenset({"conversation", "instruction"}),
        "warning",
        r".*",
    ),
}


def facts(name: str) -> ProviderFacts:
    try:
        return FACTS[name]
    except KeyError:
        raise InputError(f"unknown provider {name!r}", fix=f"use one of: {', '.join(FACTS)}") from None


def providers_for(model: str) -> set[str]:
    """Which providers a --model value is meant for: an explicit `provider:` prefix, else the first
    provider whose pattern claims the name (OpenAI's model names are distinctive; others are open)."""
    head, _, rest = model.partition(":")
    if head in FACTS and rest:
        return {head}
    specific = {n for n, f in FACTS.items() if f.model_pattern != r".*" and re.match(f.model_pattern, model)}
    return specific or {n for n, f in FACTS.items() if f.model_pattern == r".*"}


def strip_provider(model: str) -> str:
    head, _, rest = model.partition(":")
    return rest if head in FACTS and rest else model
