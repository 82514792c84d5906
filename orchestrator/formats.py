"""Training-file formats, named by shape, and writing files so that a failure never leaves a partial file.

- ``chat``: ``{"messages": [system, user, assistant]}`` (OpenAI, Together's conversational format, local)
- ``instruction``: ``{"prompt": ..., "completion": ...}``
- ``preference``: ``{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}``

Each provider says which shapes it takes (its facts, in providers/). A provider's name is accepted as
a format too and means the shape it usually takes (its first); `PROVIDER-SHAPE` names both.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import providers

SHAPES = ("chat", "instruction")  # what `record` writes from a chat (preference data comes from `pairs`)

Chat = list[dict[str, str]]


def provider_formats(name: str) -> tuple[str, ...]:
    """The format names a provider adds: its own name (its usual shape) and PROVIDER-SHAPE for each shape."""
    try:
        taken = [s for s in providers.facts(name).shapes if s in SHAPES]
    except providers.ProviderError:
        return ()
    return (name, *(f"{name}-{s}" for s in taken)) if taken else ()


def format_names() -> tuple[str, ...]:
    """Every format name: the shapes, then each installed provider's (asked of the registry when called,
    so a provider installed later is in it and a command that writes no examples never imports one)."""
    return (*SHAPES, *(f for name in providers.provider_names() for f in provider_formats(name)))


def shape_of(fmt: str) -> str:
    """The shape a format name stands for: a shape, a provider (its usual shape) or `PROVIDER-SHAPE`."""
    if fmt in SHAPES:
        return fmt
    name, _, shape = fmt.rpartition("-") if fmt.rpartition("-")[2] in SHAPES else (fmt, "", "")
    try:
        taken = [s for s in providers.facts(name).shapes if s in SHAPES]
    except providers.ProviderError:
        taken = []
    if shape and shape in taken:
        return shape
    if not shape and taken:
        return taken[0]
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(format_names())}")


def record(chat: Chat, fmt: str) -> dict:
    """One training example in the given format; `chat` ends with the assistant's message."""
    shape = shape_of(fmt)
    if shape == "chat":
        return {"messages": chat}
    prompt = "\n\n".join(m["content"] for m in chat[:-1])
    return {"prompt": prompt, "completion": chat[-1]["content"]}


def atomic_write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write lines to a temporary file beside `path`, then rename it into place. Returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line)
                handle.write("\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    return atomic_write_lines(path, (json.dumps(r, ensure_ascii=False) for r in rows))
