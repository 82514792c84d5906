"""Training-file formats, and writing files so that a failure never leaves a partial file behind.

- ``openai``: chat JSONL, ``{"messages": [system, user, assistant]}`` (OpenAI supervised fine-tuning)
- ``together-chat``: the same conversational JSONL (Together's ``messages`` format)
- ``together-instruction``: ``{"prompt": ..., "completion": ...}`` (Together's instruction format)
- ``local``: the chat format, read by the local backend with the model's chat template
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

FORMATS = ("openai", "together-chat", "together-instruction", "local")

Chat = list[dict[str, str]]


def record(chat: Chat, fmt: str) -> dict:
    """One training example in the given format; `chat` ends with the assistant's message."""
    if fmt in ("openai", "together-chat", "local"):
        return {"messages": chat}
    if fmt == "together-instruction":
        prompt = "\n\n".join(m["content"] for m in chat[:-1])
        return {"prompt": prompt, "completion": chat[-1]["content"]}
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


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
