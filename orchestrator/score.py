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
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from orchestrator import judging
from orchestrator.attempts import AttemptLog, read_attempts
from orchestrator.briefs import load_eval
from orchestrator.errors import USER_ERRORS, AdsftError, InputError
from orchestrator.paths import data_dir, home
from orchestrator.prompting import build_prompt
from providers import get_provider
from providers.base import AsyncComplete, Completion, Provider
from rules import Brief, RulePack
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

    def record(self) -> dict:
        """The attempt as its attempts.jsonl line (a shallow copy: `dataclasses.asdict` deep-copies every
        field, a measurable cost at thousands of attempts a second; the violations are the judge's own)."""
        return dict(self.__dict__)


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


class TokenBucket:
    """An asyncio token bucket: `per_minute` tokens a minute, holding at most `capacity` (a full minute's
    worth by default). A taker waits until the bucket holds what it asks for; the level may go negative,
    and later takers wait for the refill. No lock: the level changes only between awaits on one loop."""

    def __init__(self, per_minute: float | None, capacity: float | None = None) -> None:
        self.rate = per_minute / 60.0 if per_minute else 0.0
        self.capacity = capacity or per_minute or 0.0
        self.level = self.capacity
        self.stamp = time.monotonic()

    async def take(self, tokens: float = 1.0) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        self.level -= min(tokens, self.capacity)
        if self.level < 0:
            await asyncio.sleep(-self.level / self.rate)


def request_bucket(per_minute: float | None) -> TokenBucket:
    """--rpm: requests start evenly spaced (a bucket that holds one request)."""
    return TokenBucket(per_minute, capacity=1.0)


class Scorer:
    def __init__(self, config: ScoreConfig, progress: Callable[[str, int, int], None] | None = None) -> None:
        self.config = config
        self.progress = progress
        self.provider: Provider = get_provider(config.provider)
        reason = self.provider.unavailable_reason()
        if reason:
            raise AdsftError(f"cannot score with {config.provider}: {reason}")
        evaluation = load_eval(config.eval_file or data_dir() / "briefs" / "eval.jsonl")
        self.briefs = [b for b, _ in evaluation][: config.limit]
        self.references = {b.id: refs for b, refs in evaluation}
        config.run_dir.mkdir(parents=True, exist_ok=True)
        self.attempts_path = config.run_dir / "attempts.jsonl"
        self.done: dict[str, list[Attempt]] = {}
        self.prompts: dict[str, list[dict]] = {}
        self._load_existing()

    def pack(self, language: str) -> RulePack:
        return judging.pack(language)

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
        for record in read_attempts(self.attempts_path):
            a = Attempt(**record)
            self.done.setdefault(a.brief_id, []).append(a)

    def finished(self, brief_id: str) -> bool:
        attempts = self.done.get(brief_id, [])
        if self.config.samples:
            return len(attempts) >= self.config.samples
        return bool(attempts) and (attempts[-1].passed or len(attempts) >= self.config.k)

    def _record(self, log: AttemptLog, attempt: Attempt) -> bool:
        """Keep the attempt and append it to the run's file; True when a batch of lines is due an fsync."""
        self.done.setdefault(attempt.brief_id, []).append(attempt)
        return log.write(attempt.record())

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

    def _precheck(self, brief: Brief, completion: Completion | None, error: str | None) -> tuple[str, str | None]:
        """The attempt's text, and why it failed before the rules (None: the rules decide)."""
        text = completion.text.strip() if completion else ""
        return text, error or bad_output(text, completion, brief.language)

    def _attempt(
        self, brief: Brief, completion: Completion | None, reason: str | None, passed: bool, violations: list[dict]
    ) -> Attempt:
        return Attempt(
            brief.id,
            len(self.done.get(brief.id, [])) + 1,
            completion.text.strip() if completion else "",
            passed,
            reason,
            violations,
            completion.tokens_in if completion else 0,
            completion.tokens_out if completion else 0,
            completion.latency_s if completion else 0.0,
        )

    def _judge(self, brief: Brief, completion: Completion | None, error: str | None) -> Attempt:
        text, reason = self._precheck(brief, completion, error)
        passed, violations = judging.check(brief.language, text, brief) if reason is None else (False, [])
        return self._attempt(brief, completion, reason, passed, violations)

    async def _judge_async(
        self, judges: judging.Judges, brief: Brief, completion: Completion | None, error: str | None
    ) -> Attempt:
        text, reason = self._precheck(brief, completion, error)
        passed, violations = (await judges.check(brief.language, text, brief)) if reason is None else (False, [])
        return self._attempt(brief, completion, reason, passed, violations)

    def params(self, brief: Brief) -> dict:
        attempt = len(self.done.get(brief.id, []))
        return {
            "temperature": self.config.temperature,
            "max_new_tokens" if self.provider.capabilities.batch_generation else "max_tokens": self.config.max_tokens,
            **({"seed": self.config.seed * 1000 + attempt} if self.provider.capabilities.batch_generation else {}),
        }

    def run(self) -> Path:
        with AttemptLog(self.attempts_path) as log:
            if self.provider.capabilities.batch_generation:
                self._run_batched(log)
            else:
                pending = [b for b in self.briefs if not self.finished(b.id)]
                with judging.Judges({b.language for b in pending}, pending) as judges:
                    asyncio.run(self._run_async(log, judges))
        return self.attempts_path

    def _report(self, finished: int) -> None:
        if self.progress:
            self.progress("score", finished, len(self.briefs))

    def _run_batched(self, log: AttemptLog, batch_size: int = 64) -> None:
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
                        self._record(log, self._judge(brief, completion, None))
                except USER_ERRORS as exc:
                    for brief in group:
                        self._record(log, self._judge(brief, None, f"provider error: {exc.message}"))
                log.sync()
                self._report(sum(self.finished(b.id) for b in self.briefs))

    @asynccontextmanager
    async def _completions(self) -> AsyncIterator[AsyncComplete]:
        """The provider's asyncio client when it has one; else its blocking `complete` on a thread per
        request in flight."""
        if self.provider.capabilities.async_complete:
            async with self.provider.async_completions(self.config.concurrency) as complete:  # type: ignore[attr-defined]
                yield complete
            return
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="score")

        async def complete(model: str, messages: list[dict], **params: object) -> Completion:
            return await loop.run_in_executor(pool, partial(self.provider.complete, model, messages, **params))

        try:
            yield complete
        finally:
            pool.shutdown(wait=False)

    async def _run_async(self, log: AttemptLog, judges: judging.Judges) -> None:
        """At most --concurrency requests in flight, each started when the RPM and TPM buckets allow; the
        rules run in worker processes (the event loop only moves bytes), and the attempts file is fsynced
        in a worker thread once per batch of lines."""
        requests = request_bucket(self.config.requests_per_minute)
        tokens = TokenBucket(self.config.tokens_per_minute)
        gate = asyncio.Semaphore(self.config.concurrency)
        loop = asyncio.get_running_loop()
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fsync")
        finished = sum(self.finished(b.id) for b in self.briefs)
        syncing: list[asyncio.Future] = []

        async def one(brief: Brief, complete: AsyncComplete) -> None:
            nonlocal finished
            if self.finished(brief.id):
                return
            while not self.finished(brief.id):
                async with gate:
                    await requests.take()
                    messages = self._messages(brief)
                    await tokens.take(sum(len(m["content"]) for m in messages) / 4 + self.config.max_tokens)
                    try:
                        completion, error = await complete(self.config.model, messages, **self.params(brief)), None
                    except USER_ERRORS as exc:
                        completion, error = None, f"provider error: {exc.message}"
                attempt = await self._judge_async(judges, brief, completion, error)
                if self._record(log, attempt) and not any(not f.done() for f in syncing):
                    syncing[:] = [loop.run_in_executor(worker, log.sync)]
            finished += 1
            self._report(finished)

        try:
            async with self._completions() as complete:
                await asyncio.gather(*(one(b, complete) for b in self.briefs))
        finally:
            await asyncio.gather(*syncing, return_exceptions=True)
            worker.shutdown(wait=True)
            await judges.aclose()


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
