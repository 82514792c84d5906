"""API keys: read from the environment or a 0600 key file, never written anywhere else.

`redact` removes every known key from a text before it is shown, logged or stored.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from orchestrator.errors import InputError
from orchestrator.paths import home

ENV = {"openai": "OPENAI_API_KEY", "together": "TOGETHER_API_KEY"}


def key_file() -> Path:
    return home() / "keys.json"


def _stored() -> dict[str, str]:
    path = key_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(
            f"cannot read the key file {path}: {exc}", fix="`adsft keys set PROVIDER` rewrites it"
        ) from None
    return {k: v for k, v in data.items() if isinstance(v, str)}


def get_key(provider: str) -> str | None:
    env = ENV.get(provider)
    return (os.environ.get(env) if env else None) or _stored().get(provider)


def set_key(provider: str, key: str) -> Path:
    if provider not in ENV:
        raise InputError(f"no keys for provider {provider!r}", fix=f"use one of: {', '.join(ENV)}")
    data = _stored()
    data[provider] = key.strip()
    path = key_file()
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.chmod(path.with_suffix(".tmp"), stat.S_IRUSR | stat.S_IWUSR)
    os.replace(path.with_suffix(".tmp"), path)
    return path


def redact(text: str) -> str:
    """The text with every configured key replaced by a placeholder."""
    for provider in ENV:
        key = get_key(provider)
        if key and len(key) >= 6:
            text = text.replace(key, f"<{provider} key>")
    return text
