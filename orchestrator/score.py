"""`adsft score`: how many regenerations a model needs before its message passes every rule.

For each evaluation brief: build the prompt (the same template as training), generate, check, and
regenerate until clean or a cap K. `resample` asks again with the same prompt; `feedback` sends the
violations back as a correction request. Every attempt is written to the run's attempts.jsonl as it
arrives, so an interrupted run continues where it stopped. Remote providers are called concurrently
(bounded, with a requests-per-minute limit); providers that generate in batches get one batch per round.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from orchestrator.briefs import load_eval
from orchestrator.errors import USER_ERRORS, AdsftError, InputError
from orchestrator.paths import data_dir, home
from orchestrator.prompting import build_prompt
from providers import get_provider
from providers.base import Completion, Provider
from rules import Brief, RulePack, load_pack
from rules.text import CYRILLIC_RE, LATIN_RE

REFUSAL = re.compile(r"\b(I can(?:no|')t|I'm sorry|as an AI|не могу|извините, но)\b", re.IGNORECASE)
FEEDBACK = {
    "ru": "Сообщение нарушает правила:\n{problems}\nИсправь и напиши сообщение заново.",
    "en": "The message breaks these rules:\n{problems}\nFix them and write the message again.",
}


@dataclass
class ScoreConfig:
    provider: str
    model: str
    run_dir: Path
    eval_file: Path | None = None
    k: int = 5
    mode: str = "resample"  # resample | feedback
    temperature: float = 0.8
    max_tokens: int = 120
    concurrency: int = 16
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    limit: int | None = None
    seed: int = 0
    label: str | None = None
    samples: int | None = None  # draw exactly this many samples per brief (no early stop): unbiased pass@k


@dataclass
class Attempt:
    brief_id: str
    attempt: int
    text: str
    passed: bool
    reason: str | None  # why a bad output failed before the rules (empty, cut off, refusal, language, error)
    violations: list[dict]
    tokens_in: int
    tokens_out: int
    latency_s: float


def bad_output(text: str, completion: Completion | None, language: str) -> str | None:
    if completion is None:
        return "provider error"
    if not text.strip():
        return "empty"
    if completion.finish_reason == "length":
        return "cut off"
    if REFUSAL.search(text):
        return "refusal"
    letters_native = len((CYRILLIC_RE if language == "ru" else LATIN_RE).findall(text))
    letters_foreign = len((LATIN_RE if language == "ru" else CYRILLIC_RE).findall(text))
    if letters_native < letters_foreign:
        return "wrong language"
    return None


class RateLimiter:
    """At most `per_minute` starts per minute (a simple spacing limiter for our own request queue)."""

    def __init__(self, per_minute: float | None) -> None:
        self.gap = 60.0 / per_minute if per_minute else 0.0
        self.next = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.gap:
            return
        async with self.lock:
            now = time.monotonic()
            delay = max(0.0, self.next - now)
            self.next = max(now, self.next) + self.gap
        if delay:
            await asyncio.sleep(delay)


class TokenBucket:
    """At most `per_minute` tokens per minute: a request waits until the bucket holds what it needs (its
    prompt, estimated at 4 characters a token, plus its max_tokens)."""

    def __init__(self, per_minute: float | None) -> None:
        self.rate = per_minute / 60.0 if per_minute else 0.0
        self.capacity = per_minute or 0.0
        self.level = self.capacity
        self.stamp = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, tokens: float) -> None:
        if not self.rate:
            return
        tokens = min(tokens, self.capacity)
        async with self.lock:
            now = time.monotonic()
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now
            wait = max(0.0, (tokens - self.level) / self.rate)
            self.level -= tokens  # may go negative: later requests wait for the refill
        if wait:
            await asyncio.sleep(wait)


class Scorer:
    def __init__(self, config: ScoreConfig, progress: Callable[[str, int, int], None] | None = None) -> None:
        self.config = config
        self.progress = progress
        self.provider: Provider = get_provider(config.provider)
        reason = self.provider.unavailable_reason()
        if reason:
            raise AdsftError(f"cannot score with {config.provider}: {reason}")
        self.packs: dict[str, RulePack] = {}
        evaluation = load_eval(config.eval_file or data_dir() / "briefs" / "eval.jsonl")
        self.briefs = [b for b, _ in evaluation][: config.limit]
        self.references = {b.id: refs for b, refs in evaluation}
        config.run_dir.mkdir(parents=True, exist_ok=True)
        self.attempts_path = config.run_dir / "attempts.jsonl"
        self.done: dict[str, list[Attempt]] = {}
        self.prompts: dict[str, list[dict]] = {}
        self._load_existing()

    def pack(self, language: str) -> RulePack:
        if language not in self.packs:
            self.packs[language] = load_pack(language)
        return self.packs[language]

    def _load_existing(self) -> None:
        if not self.attempts_path.is_file():
            (self.config.run_dir / "run.json").write_text(
                json.dumps(
                    {
                        **asdict(self.config),
                        "run_dir": str(self.config.run_dir),
                        "eval_file": str(self.config.eval_file or ""),
                        "started_at": time.time(),
                    }
                )
            )
            return
        for line in self.attempts_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a = Attempt(**json.loads(line))
                self.done.setdefault(a.brief_id, []).append(a)

    def finished(self, brief_id: str) -> bool:
        attempts = self.done.get(brief_id, [])
        if self.config.samples:
            return len(attempts) >= self.config.samples
        return bool(attempts) and (attempts[-1].passed or len(attempts) >= self.config.k)

    def _record(self, attempt: Attempt) -> None:
        self.done.setdefault(attempt.brief_id, []).append(attempt)
        with self.attempts_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(attempt), ensure_ascii=False) + "\n")

    def _messages(self, brief: Brief) -> list[dict]:
        if brief.id not in self.prompts:  # the prompt is rendered once per brief, then reused
            self.prompts[brief.id] = build_prompt(brief, self.pack(brief.language))
        messages = list(self.prompts[brief.id])
        if self.config.mode == "feedback":
            for a in self.done.get(brief.id, []):
                problems = "\n".join(f"- {v['message']}" for v in a.violations) or f"- {a.reason}"
                messages += [
                    {"role": "assistant", "content": a.text},
                    {"role": "user", "content": FEEDBACK[brief.language].format(problems=problems)},
                ]
        return messages

    def _judge(self, brief: Brief, completion: Completion | None, error: str | None) -> Attempt:
        text = completion.text.strip() if completion else ""
        number = len(self.done.get(brief.id, [])) + 1
        reason = error or bad_output(text, completion, brief.language)
        violations: list[dict] = []
        passed = False
        if reason is None:
            result = self.pack(brief.language).check(text, brief)
            violations = [v.as_dict() for v in result.violations if v.level == "error"]
            passed = result.passed
        return Attempt(
            brief.id,
            number,
            text,
            passed,
            reason,
            violations,
            completion.tokens_in if completion else 0,
            completion.tokens_out if completion else 0,
            completion.latency_s if completion else 0.0,
        )

    def params(self, brief: Brief) -> dict:
        attempt = len(self.done.get(brief.id, []))
        return {
            "temperature": self.config.temperature,
            "max_new_tokens" if self.provider.capabilities.batch_generation else "max_tokens": self.config.max_tokens,
            **({"seed": self.config.seed * 1000 + attempt} if self.provider.capabilities.batch_generation else {}),
        }

    def run(self) -> Path:
        if self.provider.capabilities.batch_generation:
            self._run_batched()
        else:
            asyncio.run(self._run_async())
        return self.attempts_path

    def _run_batched(self, batch_size: int = 64) -> None:
        total = len(self.briefs)
        while True:
            pending = [b for b in self.briefs if not self.finished(b.id)]
            if not pending:
                break
            for start in range(0, len(pending), batch_size):
                group = pending[start : start + batch_size]
                try:
                    completions = self.provider.complete_batch(  # type: ignore[attr-defined]
                        self.config.model, [self._messages(b) for b in group], **self.params(group[0])
                    )
                    for brief, completion in zip(group, completions, strict=True):
                        self._record(self._judge(brief, completion, None))
                except USER_ERRORS as exc:
                    for brief in group:
                        self._record(self._judge(brief, None, f"provider error: {exc.message}"))
                if self.progress:
                    self.progress("score", sum(self.finished(b.id) for b in self.briefs), total)

    async def _run_async(self) -> None:
        limiter = RateLimiter(self.config.requests_per_minute)
        bucket = TokenBucket(self.config.tokens_per_minute)
        gate = asyncio.Semaphore(self.config.concurrency)
        total = len(self.briefs)
        loop = asyncio.get_running_loop()
        # the SDK clients are synchronous: one thread per request in flight (the default pool is far smaller)
        pool = ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="score")

        async def one(brief: Brief) -> None:
            while not self.finished(brief.id):
                async with gate:
                    await limiter.wait()
                    messages = self._messages(brief)
                    await bucket.take(sum(len(m["content"]) for m in messages) / 4 + self.config.max_tokens)
                    try:
                        call = partial(self.provider.complete, self.config.model, messages, **self.params(brief))
                        completion = await loop.run_in_executor(pool, call)
                        attempt = self._judge(brief, completion, None)
                    except USER_ERRORS as exc:
                        attempt = self._judge(brief, None, f"provider error: {exc.message}")
                self._record(attempt)
            if self.progress:
                self.progress("score", sum(self.finished(b.id) for b in self.briefs), total)

        try:
            await asyncio.gather(*(one(b) for b in self.briefs))
        finally:
            pool.shutdown(wait=False)


def run_score(config: ScoreConfig, progress: Callable[[str, int, int], None] | None = None) -> Path:
    if config.mode not in ("resample", "feedback"):
        raise InputError(f"unknown mode {config.mode!r}", fix="use resample or feedback")
    if config.k < 1:
        raise InputError("--k must be at least 1")
    if config.samples and (config.samples < config.k or config.mode != "resample"):
        raise InputError("--samples must be >= --k and works in resample mode", fix="e.g. --k 5 --samples 5")
    return Scorer(config, progress).run()


def default_run_dir(label: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")[:60] or "run"
    return home() / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}"
