"""`adsft validate`: every problem of a training file in one streamed pass, each with its line.

Checks: UTF-8 and one JSON object per line; shape detection (chat `messages`, instruction
`prompt`/`completion`, preference `input`/`preferred_output`/`non_preferred_output`, text `text`), the
shapes the provider takes (its facts) and mixed shapes; extra columns; the OpenAI cookbook checks
(messages list, message keys, roles, content, an assistant message, `weight` 0/1); roles that do not
alternate; special tokens inside content; tokens per example over the model's limit (exact
tokenizer); duplicate examples; examples shared between the training and validation files; the
provider's minimum example count. Memory does not grow with the file: examples are hashed, not kept.

The same pass gives what `estimate` and `submit` need, so a training file is read once: its SHA-256
(the idempotency key and upload dedup use it), its exact token counts, and the average prompt and answer
tokens over the first examples (what scoring with the tuned model costs).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

from orchestrator import preference
from orchestrator.errors import InputError, Problem
from orchestrator.tokens import SPECIAL_TOKEN_RE, Batch, ChatCounter, ModelTokenizer, TemplateFailed, resolve
from providers import default_provider, facts

if TYPE_CHECKING:
    from orchestrator.pricing import Catalog

FORMAT_KEYS = {
    "chat": {"messages"},
    "instruction": {"prompt", "completion"},
    "preference": {"input", "preferred_output", "non_preferred_output"},
    "text": {"text"},
}
EXTRA_KEYS = {
    "chat": {"tools", "parallel_tool_calls", "functions"},
    "instruction": set(),
    "preference": {"tools", "parallel_tool_calls"},
    "text": set(),
}
SAMPLE = 500  # examples the prompt/answer split is averaged over
MESSAGE_KEYS = {"role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id"}
PLAIN_KEYS = {"role", "content"}
ROLES = {"system", "user", "assistant", "function", "tool"}
MAX_KEPT_PER_CODE = 200


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    code: str
    level: str  # error | warning
    message: str

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "code": self.code, "level": self.level, "message": self.message}


@dataclass
class FileStats:
    path: str
    examples: int = 0
    format: str | None = None
    tokens: int = 0  # exact tokens of all examples (0 when no tokenizer)
    tokens_capped: int = 0  # each example counted up to the model's limit (what OpenAI bills)
    max_tokens: int = 0
    over_limit: int = 0
    sha256: str = ""  # of the file's bytes, computed in the same pass
    sampled: int = 0  # examples the prompt/answer averages are taken over (the first SAMPLE)
    prompt_tokens_avg: float = 0.0
    answer_tokens_avg: float = 0.0


@dataclass
class ValidationReport:
    provider: str
    model: str | None
    tokenizer_exact: bool | None
    limit: int | None
    files: list[FileStats] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    warnings: int = 0

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def raise_for_errors(self, outcome: str) -> None:
        """An InputError listing the first 20 errors (`outcome` says what did not happen), if any."""
        if self.ok:
            return
        first = [i for i in self.issues if i.level == "error"][:20]
        raise InputError(
            f"the dataset has {self.errors} error(s) for {self.provider}; {outcome}",
            [Problem(i.message, i.file, i.line, i.code) for i in first],
            fix="run `adsft validate` for the full list and correct the file",
        )

    def add(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        if issue.level == "error":
            self.errors += 1
        else:
            self.warnings += 1
        if self.counts[issue.code] <= MAX_KEPT_PER_CODE:
            self.issues.append(issue)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "provider": self.provider,
            "model": self.model,
            "errors": self.errors,
            "warnings": self.warnings,
            "limit": self.limit,
            "tokenizer_exact": self.tokenizer_exact,
            "files": [vars(f) for f in self.files],
            "counts": dict(self.counts),
            "issues": [i.as_dict() for i in self.issues],
        }


def _plain_chat(messages: list) -> bool:
    """The common case, checked fast: an optional system message, then user and assistant alternating
    (at least one of each), every message only `role` and non-blank `content` without special tokens.
    Whatever is not plain goes through the full checks below."""
    first = messages[0]
    start = 1 if type(first) is dict and first.get("role") == "system" else 0
    if len(messages) - start < 2:
        return False
    for k, m in enumerate(messages):
        if type(m) is not dict or len(m) != 2:
            return False
        content = m.get("content")
        if type(content) is not str or not content or content.isspace():
            return False
        if "<|" in content and SPECIAL_TOKEN_RE.search(content):
            return False
        if m.get("role") != ("system" if k < start else ("user", "assistant")[(k - start) % 2]):
            return False
    return True


def _conversation_problems(obj: dict, alternation: str) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    messages = obj.get("messages")
    if isinstance(messages, list) and messages and _plain_chat(messages):
        return out
    if not isinstance(messages, list) or not messages:
        return [("missing_messages_list", "error", "`messages` must be a non-empty list")]
    roles = []
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict):
            out.append(("message_type", "error", f"message {i} is not an object"))
            continue
        if "role" not in m or ("content" not in m and not m.get("tool_calls") and not m.get("function_call")):
            out.append(("message_missing_key", "error", f"message {i} needs `role` and `content`"))
        unknown = sorted(set(m) - MESSAGE_KEYS)
        if unknown:
            out.append(("message_unrecognized_key", "error", f"message {i} has unrecognised key(s) {unknown}"))
        role = m.get("role")
        if role not in ROLES:
            out.append(("unrecognized_role", "error", f"message {i} has role {role!r}; use {sorted(ROLES)}"))
        content = m.get("content")
        if "content" in m and (not isinstance(content, str) or not content.strip()) and not m.get("tool_calls"):
            out.append(("missing_content", "error", f"message {i} has no text content"))
        if "weight" in m and m["weight"] not in (0, 1):
            out.append(("bad_weight", "error", f"message {i}: `weight` must be 0 or 1, not {m['weight']!r}"))
        if isinstance(content, str) and SPECIAL_TOKEN_RE.search(content):
            token = SPECIAL_TOKEN_RE.search(content).group(0)  # type: ignore[union-attr]
            out.append(("special_token", "error", f"message {i} contains the special token {token}"))
        roles.append(role)
    if "assistant" not in roles:
        out.append(("missing_assistant_message", "error", "no assistant message to learn from"))
    turns = [r for r in roles if r in ("user", "assistant")]
    body = roles[1:] if roles and roles[0] == "system" else roles
    alternating = turns == body and all(r == ("user" if k % 2 == 0 else "assistant") for k, r in enumerate(turns))
    if not alternating:
        out.append(
            (
                "roles_not_alternating",
                alternation,
                f"roles {roles}: after an optional system message, user and "
                "assistant must alternate, starting with user",
            )
        )
    return out


def _instruction_problems(obj: dict) -> list[tuple[str, str, str]]:
    out = []
    for key in ("prompt", "completion"):
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            out.append(("missing_content", "error", f"`{key}` must be a non-empty string"))
        elif SPECIAL_TOKEN_RE.search(value):
            out.append(
                (
                    "special_token",
                    "error",
                    f"`{key}` contains the special token {SPECIAL_TOKEN_RE.search(value).group(0)}",
                )
            )  # type: ignore[union-attr]
    return out


def _shape_problems(obj: dict, fmt: str, alternation: str) -> list[tuple[str, str, str]]:
    if fmt == "chat":
        return _conversation_problems(obj, alternation)
    if fmt == "instruction":
        return _instruction_problems(obj)
    if fmt == "preference":
        return preference.problems(obj)
    return []


def _chat_of(obj: dict, fmt: str) -> list[dict]:
    if fmt == "chat":
        return [m for m in obj["messages"] if isinstance(m, dict)]
    if fmt == "preference":
        return [*obj["input"]["messages"], *obj["preferred_output"]]
    if fmt == "instruction":
        return [{"role": "user", "content": obj["prompt"]}, {"role": "assistant", "content": obj["completion"]}]
    return [{"role": "user", "content": obj.get("text", "")}]


class LoneSurrogate(ValueError):
    """A \\u escape that is half of a UTF-16 pair: no Unicode text, which nothing downstream can encode."""


def _parse(raw: bytes) -> object:
    """The line's JSON value; a UnicodeDecodeError or json.JSONDecodeError as the standard library
    reports it, or LoneSurrogate. orjson reads the bytes (and checks their UTF-8) in one step; what it
    refuses is read again by the standard library, which takes a little more (NaN, Infinity) and words
    the error. (orjson reads an integer wider than 64 bits as a float: no check here depends on one.)"""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        obj = json.loads(raw.decode("utf-8"))
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise LoneSurrogate from None
    return obj


class _Scan:
    """One file's pass: every line checked, hashed and its tokens counted, the statistics kept."""

    def __init__(
        self,
        path: Path,
        report: ValidationReport,
        tokenizer: ModelTokenizer | None,
        seen: dict[bytes, int] | None,
        train_hashes: set[bytes] | None,
    ) -> None:
        self.file = str(path)
        self.path = path
        self.report = report
        self.stats = FileStats(self.file)
        self.seen = seen
        self.train_hashes = train_hashes
        self.provider_facts = facts(report.provider)  # once: not per line
        self.takes_chat = "chat" in self.provider_facts.shapes
        self.counter = ChatCounter(tokenizer) if tokenizer is not None else None
        self.prompt_sum = self.answer_sum = 0

    def issue(self, number: int, code: str, level: str, message: str) -> None:
        self.report.add(Issue(self.file, number, code, level, message))

    def run(self) -> FileStats:
        first_issue = len(self.report.issues)
        sha = hashlib.sha256()
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {self.file}: {exc.strerror}", fix="check the path") from None
        try:
            with handle:
                for number, raw in enumerate(handle, 1):
                    sha.update(raw)
                    self.line(number, raw)
        finally:
            if self.counter is not None:
                self.counted(self.counter.finish())
        report, stats = self.report, self.stats
        report.issues[first_issue:] = sorted(report.issues[first_issue:], key=lambda i: i.line or 0)  # line order
        stats.sha256 = sha.hexdigest()
        if stats.sampled:
            stats.prompt_tokens_avg = self.prompt_sum / stats.sampled
            stats.answer_tokens_avg = self.answer_sum / stats.sampled
        return stats

    def line(self, number: int, raw: bytes) -> None:
        stripped = raw.strip()
        if not stripped:
            return
        try:
            obj = _parse(raw)
        except UnicodeDecodeError as exc:
            return self.issue(number, "encoding", "error", f"not UTF-8 (byte {exc.start})")
        except json.JSONDecodeError as exc:
            message = f"not one JSON object per line: {exc.msg} (column {exc.colno})"
            return self.issue(number, "invalid_json", "error", message)
        except LoneSurrogate:
            message = "a \\u escape is half of a character (a lone UTF-16 surrogate): not Unicode text"
            return self.issue(number, "encoding", "error", message)
        if type(obj) is not dict:
            message = f"each line must be a JSON object, not {type(obj).__name__}"
            return self.issue(number, "data_type", "error", message)
        self.stats.examples += 1
        if len(obj) == 1 and type(messages := obj.get("messages")) is list and messages and _plain_chat(messages):
            return self.plain(number, stripped, messages)
        fmt = "chat" if len(obj) == 1 and "messages" in obj else self.format_of(obj)
        if fmt is None:
            return self.issue(
                number,
                "unknown_format",
                "error",
                "needs `messages`, or `prompt` and `completion`, or `input` and `preferred_output` and "
                "`non_preferred_output`, or `text`",
            )
        self.shaped(number, fmt, sorted(set(obj) - FORMAT_KEYS[fmt] - EXTRA_KEYS[fmt]))
        found = _shape_problems(obj, fmt, self.provider_facts.alternation)
        for code, level, message in found:
            self.issue(number, code, level, message)
        self.hashed(number, stripped)
        if not any(level == "error" for _, level, _ in found):
            self.count(number, obj, fmt, None)

    def plain(self, number: int, stripped: bytes, messages: list[dict]) -> None:
        """The usual line, checked whole by _plain_chat: only its format, hash and tokens to see to."""
        if self.stats.format != "chat" or not self.takes_chat:
            self.shaped(number, "chat", [])
        self.hashed(number, stripped)
        if self.counter is None:
            return
        if self.stats.sampled < SAMPLE:
            self.count(number, {"messages": messages}, "chat", messages)
        else:
            self.counted(self.counter.add_alternating(number, messages))

    @staticmethod
    def format_of(obj: dict) -> str | None:
        return next((f for f, keys in FORMAT_KEYS.items() if keys <= obj.keys()), None)

    def shaped(self, number: int, fmt: str, extra: list[str]) -> None:
        """The file's format kept (the first example's); mixed formats, extra keys and a format the
        provider does not take reported."""
        stats = self.stats
        if stats.format is None:
            stats.format = fmt
        elif fmt != stats.format:
            self.issue(number, "mixed_formats", "error", f"{fmt} example in a file that started as {stats.format}")
        if extra:
            self.issue(number, "extra_columns", "error", f"unrecognised key(s) {extra} for the {fmt} format")
        accepted = self.provider_facts.shapes
        if fmt not in accepted:
            message = f"{self.report.provider} fine-tuning takes {', '.join(sorted(accepted))} examples, not {fmt}"
            self.issue(number, "wrong_format", "error", message)

    def hashed(self, number: int, stripped: bytes) -> None:
        digest = hashlib.blake2b(stripped, digest_size=16).digest()  # byte-identical examples
        if self.seen is not None:
            first = self.seen.get(digest)
            if first is not None:
                self.issue(number, "duplicate", "warning", f"same example as line {first}")
            else:
                self.seen[digest] = number
        if self.train_hashes is not None and digest in self.train_hashes:
            self.issue(number, "train_val_overlap", "error", "this validation example is also in the training file")

    def count(self, number: int, obj: dict, fmt: str, plain: list[dict] | None) -> None:
        if self.counter is None:
            return
        try:
            self._count(number, obj, fmt, plain, self.counter)
        except TemplateFailed as exc:
            message = f"the chat template of {self.report.model} cannot lay this example out: {exc}"
            self.issue(number, "chat_template", "error", message)

    def _count(self, number: int, obj: dict, fmt: str, plain: list[dict] | None, counter: ChatCounter) -> None:
        chat = plain if plain is not None else _chat_of(obj, fmt)
        tokenizer = counter.tokenizer
        sample = None
        if self.stats.sampled < SAMPLE:  # the prompt/answer split, averaged over the first examples
            answers = [m for m in chat if m.get("role") == "assistant"]
            sample = (
                tokenizer.count_chat([m for m in chat if m.get("role") != "assistant"]),
                sum(tokenizer.count_text(str(m.get("content") or "")) for m in answers),
            )
        if fmt == "preference":  # the trainer reads the prompt with each output: both counted
            n = tokenizer.count_chat(chat) + preference.rejected_tokens(obj, tokenizer)
            self.counted([([number], np.array([n], dtype=np.int64))])
        elif plain is not None:
            self.counted(counter.add_alternating(number, plain))
        else:
            self.counted(counter.add(number, chat))
        if sample is not None:
            self.stats.sampled += 1
            self.prompt_sum += sample[0]
            self.answer_sum += sample[1]

    def counted(self, batches: list[Batch]) -> None:
        stats, limit = self.stats, self.report.limit
        for lines, totals in batches:
            if not len(totals):
                continue
            stats.tokens += int(totals.sum())
            stats.max_tokens = max(stats.max_tokens, int(totals.max()))
            if limit is None:
                stats.tokens_capped += int(totals.sum())
                continue
            stats.tokens_capped += int(np.minimum(totals, limit).sum())
            over = np.flatnonzero(totals > limit)
            stats.over_limit += len(over)
            for i in over.tolist():
                message = f"{int(totals[i])} tokens, over the {limit}-token limit of {self.report.model}"
                self.issue(lines[i], "too_long", "error", message)


def _scan(
    path: Path,
    report: ValidationReport,
    tokenizer: ModelTokenizer | None,
    seen: dict[bytes, int] | None,
    train_hashes: set[bytes] | None,
) -> FileStats:
    return _Scan(path, report, tokenizer, seen, train_hashes).run()


def validate(
    train: str | Path,
    provider: str | None = None,
    model: str | None = None,
    val: str | Path | None = None,
    limit: int | None = None,
    catalog: Catalog | None = None,
) -> ValidationReport:
    """Validate a training file (and optionally its validation file) for a provider (default: the first
    of the `auto` chain) and model. Each file is read once."""
    provider = provider or default_provider()
    minimum = facts(provider).min_examples
    tokenizer = resolve(model) if model else None
    if model:
        from orchestrator.pricing import load_catalog

        catalog = catalog or load_catalog()
        catalog.check_fine_tunable(provider, model)  # a model it does not fine-tune: exit 2, close matches
        if limit is None:
            limit = catalog.context_limit(provider, model)
    report = ValidationReport(provider, model, tokenizer.exact if tokenizer else None, limit)
    train_path = Path(train)
    if not train_path.is_file():
        raise InputError(f"no such file: {train}", fix="pass the training JSONL file")
    seen: dict[bytes, int] = {}
    stats = _scan(train_path, report, tokenizer, seen, None)
    report.files.append(stats)
    if stats.examples < minimum:
        report.add(
            Issue(
                str(train_path),
                None,
                "too_few_examples",
                "error",
                f"{stats.examples} examples; {provider} needs at least {minimum}",
            )
        )
    if val is not None:
        val_path = Path(val)
        if not val_path.is_file():
            raise InputError(f"no such file: {val}", fix="pass the validation JSONL file")
        train_hashes = set(seen)
        seen.clear()
        report.files.append(_scan(val_path, report, tokenizer, {}, train_hashes))
    return report
