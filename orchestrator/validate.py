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

from orchestrator import preference
from orchestrator.errors import InputError, Problem
from orchestrator.tokens import SPECIAL_TOKEN_RE, ChatCounter, ModelTokenizer, resolve
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
    start = 1 if isinstance(messages[0], dict) and messages[0].get("role") == "system" else 0
    if len(messages) - start < 2:
        return False
    for k, m in enumerate(messages):
        if not isinstance(m, dict) or m.keys() != PLAIN_KEYS:
            return False
        content = m["content"]
        if not isinstance(content, str) or not content.strip() or SPECIAL_TOKEN_RE.search(content):
            return False
        if m["role"] != ("system" if k < start else ("user", "assistant")[(k - start) % 2]):
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


def _scan(
    path: Path,
    report: ValidationReport,
    tokenizer: ModelTokenizer | None,
    seen: dict[bytes, int] | None,
    train_hashes: set[bytes] | None,
) -> FileStats:
    file = str(path)
    stats = FileStats(file)
    sha = hashlib.sha256()
    prompt_sum = answer_sum = 0
    provider_facts = facts(report.provider)  # once: the registry looks providers up by entry point
    accepted = provider_facts.shapes
    counter = ChatCounter(tokenizer) if tokenizer is not None else None
    first_issue = len(report.issues)

    def counted(done: list[tuple[object, int]]) -> None:
        for line, n in done:
            stats.tokens += n
            stats.max_tokens = max(stats.max_tokens, n)
            if report.limit is not None:
                stats.tokens_capped += min(n, report.limit)
                if n > report.limit:
                    stats.over_limit += 1
                    report.add(
                        Issue(
                            file,
                            int(line),  # type: ignore[call-overload]
                            "too_long",
                            "error",
                            f"{n} tokens, over the {report.limit}-token limit of {report.model}",
                        )
                    )
            else:
                stats.tokens_capped += n

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}", fix="check the path") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            sha.update(raw)
            stripped = raw.strip()
            if not stripped:
                continue

            def issue(code: str, level: str, message: str, number: int = number) -> None:
                report.add(Issue(file, number, code, level, message))

            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                issue("encoding", "error", f"not UTF-8 (byte {exc.start})")
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                issue("invalid_json", "error", f"not one JSON object per line: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                issue("data_type", "error", f"each line must be a JSON object, not {type(obj).__name__}")
                continue
            stats.examples += 1
            plain = len(obj) == 1 and "messages" in obj  # the usual chat line: no other keys to look at
            fmt = "chat" if plain else next((f for f, keys in FORMAT_KEYS.items() if keys <= set(obj)), None)
            if fmt is None:
                issue(
                    "unknown_format",
                    "error",
                    "needs `messages`, or `prompt` and `completion`, or `input` and `preferred_output` and "
                    "`non_preferred_output`, or `text`",
                )
                continue
            if stats.format is None:
                stats.format = fmt
            elif fmt != stats.format:
                issue("mixed_formats", "error", f"{fmt} example in a file that started as {stats.format}")
            extra = [] if plain else sorted(set(obj) - FORMAT_KEYS[fmt] - EXTRA_KEYS[fmt])
            if extra:
                issue("extra_columns", "error", f"unrecognised key(s) {extra} for the {fmt} format")
            if fmt not in accepted:
                issue(
                    "wrong_format",
                    "error",
                    f"{report.provider} fine-tuning takes {', '.join(sorted(accepted))} examples, not {fmt}",
                )
            found = _shape_problems(obj, fmt, provider_facts.alternation)
            for code, level, message in found:
                issue(code, level, message)
            digest = hashlib.blake2b(stripped, digest_size=16).digest()  # byte-identical examples
            if seen is not None:
                first = seen.get(digest)
                if first is not None:
                    issue("duplicate", "warning", f"same example as line {first}")
                else:
                    seen[digest] = number
            if train_hashes is not None and digest in train_hashes:
                issue("train_val_overlap", "error", "this validation example is also in the training file")
            if counter is not None and not any(level == "error" for _, level, _ in found):
                chat = _chat_of(obj, fmt)
                if stats.sampled < SAMPLE:  # the prompt/answer split, averaged over the first examples
                    stats.sampled += 1
                    answer_sum += sum(
                        counter.tokenizer.count_text(str(m.get("content") or ""))
                        for m in chat
                        if m.get("role") == "assistant"
                    )
                    prompt_sum += counter.tokenizer.count_chat([m for m in chat if m.get("role") != "assistant"])
                if fmt == "preference":  # the trainer reads the prompt with each output: both counted
                    n = counter.tokenizer.count_chat(chat) + preference.rejected_tokens(obj, counter.tokenizer)
                    counted([(number, n)])
                else:
                    counted(counter.add(number, chat))
    if counter is not None:
        counted(counter.flush())
    report.issues[first_issue:] = sorted(report.issues[first_issue:], key=lambda i: i.line or 0)  # line order
    stats.sha256 = sha.hexdigest()
    if stats.sampled:
        stats.prompt_tokens_avg = prompt_sum / stats.sampled
        stats.answer_tokens_avg = answer_sum / stats.sampled
    return stats


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
