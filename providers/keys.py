"""API keys: read from each provider's own environment variables (declared in its facts) or from one
0600 key file, never written anywhere else.

`redact` removes every registered provider's key from a text before it is shown, logged or stored.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from providers.errors import ProviderError, ProviderInputError
from providers.paths import home


def key_file() -> Path:
    return home() / "keys.json"


def _variables(provider: str) -> tuple[str, ...]:
    from providers import facts

    try:
        return facts(provider).key_env
    except ProviderError:
        return ()


def _stored() -> dict[str, str]:
    path = key_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProviderInputError(
            f"cannot read the key file {path}: {exc}", fix="`adsft keys set PROVIDER` rewrites it"
        ) from None
    return {k: v for k, v in data.items() if isinstance(v, str)}


def get_key(provider: str) -> str | None:
    for env in _variables(provider):
        if os.environ.get(env):
            return os.environ[env]
    return _stored().get(provider) if _variables(provider) else None


def key_hint(provider: str) -> str:
    """How to give this provider a key, for an error message's fix."""
    variables = _variables(provider)
    env = f"set {variables[0]} or " if variables else ""
    return f"{env}run `adsft keys set {provider}`"


def keyed_providers() -> list[str]:
    from providers import provider_names

    return [p for p in provider_names() if _variables(p)]


def set_key(provider: str, key: str) -> Path:
    if not _variables(provider):
        raise ProviderInputError(
            f"provider {provider!r} takes no API key", fix=f"use one of: {', '.join(keyed_providers())}"
        )
    data = _stored()
    data[provider] = key.strip()
    path = key_file()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
    os.replace(tmp, path)
    return path


def redact(text: str) -> str:
    """The text with every registered provider's key replaced by a placeholder."""
    for provider in keyed_providers():
        key = get_key(provider)
        if key and len(key) >= 6:
            text = text.replace(key, f"<{provider} key>")
    return text
