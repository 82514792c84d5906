"""Fine-tuning backends behind one protocol (providers.base.Provider), and the registry: the only place
that knows which providers exist and what each says about itself.

Built-in providers are registered exactly as outside ones are: by name, through the `adsft.providers`
entry-point group (an outside package may add or replace one). Each provider class declares its facts
(`ProviderFacts`: billing, dataset shapes, minimum examples, model pattern and aliases, default model,
key variables, `auto` rank, price-catalog id) and its `Capabilities` as data; every other module asks
the functions below. Nothing outside `providers/` branches on a provider's name.

Layers: this package imports nothing of `orchestrator/`. What a provider needs from the pipeline (the
texts the tiny model is pre-trained on) is passed in with `configure`.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from providers.errors import ProviderError, ProviderInputError, ProviderUnavailable

if TYPE_CHECKING:
    from providers.base import Capabilities, Provider, ProviderFacts

__all__ = [
    "Context",
    "ProviderError",
    "ProviderInputError",
    "ProviderUnavailable",
    "alias_owner",
    "auto_chain",
    "capabilities",
    "configure",
    "context",
    "default_provider",
    "facts",
    "get_provider",
    "offline_provider",
    "price_id",
    "provider_class",
    "provider_names",
    "providers_for",
    "ranked",
    "strip_provider",
]

BUILTIN = {
    "openai": "providers.openai:OpenAIProvider",
    "together": "providers.together:TogetherProvider",
    "local": "providers.local:LocalProvider",
}


@dataclass
class Context:
    """What the pipeline hands the providers: texts to pre-train the embedded tiny model on."""

    pretraining_texts: Callable[[], list[str]] | None = None


_CONTEXT = Context()


def __getattr__(name: str) -> object:
    """The protocol and its facts, imported when first asked for: a command that never touches a provider
    (`adsft check`) starts without them."""
    if name in ("Capabilities", "Provider", "ProviderFacts"):
        from providers import base

        return getattr(base, name)
    raise AttributeError(f"module 'providers' has no attribute {name!r}")


def configure(**values: object) -> Context:
    """Pass in what providers need from the pipeline (see Context); returns the current context."""
    for key, value in values.items():
        if not hasattr(_CONTEXT, key):
            raise TypeError(f"unknown provider context {key!r}")
        setattr(_CONTEXT, key, value)
    return _CONTEXT


def context() -> Context:
    return _CONTEXT


def _targets() -> dict[str, str]:
    """Provider name -> "module:Class". Reading the entry points scans every installed distribution's
    metadata (milliseconds each time), so the answer is kept until the import path changes (a package
    put on `sys.path` is found on the next call)."""
    return _scan_targets(tuple(sys.path))


@lru_cache(maxsize=8)
def _scan_targets(import_path: tuple[str, ...]) -> dict[str, str]:
    """The targets as the entry points name them for this import path (the key of the cache)."""
    from importlib.metadata import entry_points  # its import costs more than a short command's own work

    found = dict(BUILTIN)
    for ep in entry_points(group="adsft.providers"):
        found[ep.name] = ep.value
    return found


def provider_names() -> list[str]:
    return sorted(_targets())


def _unknown(name: str) -> ProviderInputError:
    return ProviderInputError(f"unknown provider {name!r}", fix=f"use one of: {', '.join(provider_names())}")


@cache
def _load(target: str) -> type:
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ProviderUnavailable(
            f"the provider {target} cannot be loaded: {exc}", fix="install the package that provides it"
        ) from None
    from providers.base import Capabilities, ProviderFacts

    for attr_name, kind in (("facts", ProviderFacts), ("capabilities", Capabilities)):
        if not isinstance(getattr(cls, attr_name, None), kind):
            raise ProviderError(
                f"the provider {target} does not declare `{attr_name}` ({kind.__name__})",
                fix="declare it on the provider class (see providers/base.py)",
            )
    return cls


def provider_class(name: str) -> type:
    target = _targets().get(name)
    if target is None:
        raise _unknown(name)
    return _load(target)


def facts(name: str) -> ProviderFacts:
    return provider_class(name).facts


def capabilities(name: str) -> Capabilities:
    return provider_class(name).capabilities


def price_id(name: str) -> str:
    """The provider's name in the price catalog (its own name unless it says otherwise)."""
    try:
        return facts(name).price_id or name
    except ProviderError:
        return name


def get_provider(name: str) -> Provider:
    return provider_class(name)()


def _loadable() -> dict[str, ProviderFacts]:
    found = {}
    for name in provider_names():
        try:
            found[name] = facts(name)
        except ProviderError:
            continue  # a provider whose package is missing claims nothing
    return found


def auto_chain(has_key: Callable[[str], bool]) -> list[str]:
    """The `auto` fallback chain: providers with an `auto_rank`, lowest first, those that need a key only
    when it is set (`has_key(name)`)."""
    return [n for n in ranked() if not facts(n).needs_key() or has_key(n)]


def ranked() -> list[str]:
    """The providers that take part in `auto`, in its order (what `estimate` compares by default)."""
    return [n for _, n in sorted((f.auto_rank, n) for n, f in _loadable().items() if f.auto_rank is not None)]


def default_provider() -> str:
    """The provider a command uses when none is named: the first in `auto` order."""
    names = ranked()
    if not names:
        raise ProviderUnavailable("no provider is registered for the `auto` chain", fix="name one with --provider")
    return names[0]


def offline_provider() -> str:
    """A provider that needs no key and no network (the demo's backend)."""
    for name in provider_names():
        try:
            if capabilities(name).offline:
                return name
        except ProviderError:
            continue
    raise ProviderUnavailable("no offline provider is installed", fix="pip install 'adsft[local]'")


def providers_for(model: str) -> set[str]:
    """Which providers a --model value is meant for: an explicit `provider:` prefix, else the providers
    that name it as an alias, else those whose specific pattern claims it, else those that take any."""
    table = _loadable()
    head, _, rest = model.partition(":")
    if head in table and rest:
        return {head}
    aliased = {n for n, f in table.items() if model in f.aliases}
    if aliased:
        return aliased
    specific = {n for n, f in table.items() if f.model_pattern != r".*" and re.match(f.model_pattern, model)}
    return specific or {n for n, f in table.items() if f.model_pattern == r".*"}


def strip_provider(model: str) -> str:
    head, _, rest = model.partition(":")
    return rest if rest and head in _targets() else model


def alias_owner(model: str) -> str | None:
    """The provider that resolves this model name itself (`tiny`), if any."""
    return next((n for n, f in _loadable().items() if model in f.aliases), None)
