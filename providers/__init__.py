"""Fine-tuning backends behind one protocol (providers.base.Provider).

Built-in providers are registered exactly as outside ones are: by name, through the `adsft.providers`
entry-point group (an outside package may add or replace one). The provider is chosen here, in one
place; nothing else in adsft branches on a provider's name.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from orchestrator.errors import InputError
from providers.base import Provider

BUILTIN = {
    "openai": "providers.openai:OpenAIProvider",
    "together": "providers.together:TogetherProvider",
    "local": "providers.local:LocalProvider",
}


def _targets() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group="adsft.providers"):
        found[ep.name] = ep.value
    return found


def provider_names() -> list[str]:
    return sorted(_targets())


def get_provider(name: str) -> Provider:
    target = _targets().get(name)
    if target is None:
        raise InputError(f"unknown provider {name!r}", fix=f"use one of: {', '.join(provider_names())}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)()
