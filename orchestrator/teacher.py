"""Teacher mode of `adsft synth`: candidates written by a model behind any OpenAI-compatible endpoint
(OpenAI, Together, or vLLM / Ollama / LM Studio through OPENAI_BASE_URL), or by the local backend.

`--teacher PROVIDER:MODEL` -> an estimate before the first request (prompt tokens counted exactly where the
model's tokenizer is known, replies bounded by max_tokens, priced from the catalog) -> confirmation ->
K samples per brief, requested concurrently; every reply is appended to OUT/teacher.jsonl as it arrives,
so a run that stopped (a crash, Ctrl-C, a provider outage) asks only for what is missing when it is run
again. The replies then go through the same checks as the templates' messages: the language pack, the
grammar-sanity pack and fact fidelity.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import providers
from orchestrator.errors import InputError
from orchestrator.prompting import build_prompt
from orchestrator.templates import Candidate
from providers.errors import ProviderError, ProviderInputError, ProviderUnavailable
from rules import Brief, RulePack

CACHE_FILE = "teacher.jsonl"
FALLBACK_ENCODING = "o200k_base"  # counts a model whose tokenizer is unknown (an approximation, said so)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Teacher:
    provider: str
    model: str
    k: int = 4  # samples per brief
    share: float = 0.5  # share of the selected examples that come from the teacher (the rest: templates)
    max_tokens: int = 200
    temperature: float = 1.0
    concurrency: int = 16

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def template_id(self) -> str:
        return f"teacher:{self.label}"


def parse_teacher(spec: str, provider: str | None = None) -> tuple[str, str]:
    """(provider, model) from `PROVIDER:MODEL`, or from a bare model and --provider; with neither, the
    provider that claims the model's name (gpt-*: openai), else the first of the `auto` chain."""
    spec = spec.strip()
    head, _, rest = spec.partition(":")
    names = providers.provider_names()
    if rest and head in names:
        if provider and provider != head:
            raise InputError(f"--teacher names provider {head!r} and --provider {provider!r}", fix="keep one")
        return head, rest
    if not spec:
        raise InputError("--teacher needs a model", fix="e.g. --teacher openai:gpt-4.1-mini")
    close = difflib.get_close_matches(head, names, n=1, cutoff=0.7) if rest else []
    if close:  # `opnai:gpt-4.1` is a misspelt provider, not a model named so (`llama3.1:8b` is a model)
        raise InputError(f"unknown provider {head!r} in --teacher", fix=f"did you mean {close[0]}:{rest}?")
    if provider:
        if provider not in names:
            raise InputError(f"unknown provider {provider!r}", fix=f"one of: {', '.join(names)}")
        return provider, spec
    claimed = providers.providers_for(spec)
    return (next(iter(claimed)) if len(claimed) == 1 else providers.default_provider()), spec


def check_teacher(teacher: Teacher) -> None:
    if teacher.k < 1:
        raise InputError("--teacher-k must be at least 1")
    if not 0.0 <= teacher.share <= 1.0:
        raise InputError("--teacher-share must be between 0 and 1", fix="e.g. 0.5: half teacher, half templates")
    if teacher.max_tokens < 16:
        raise InputError("--teacher-max-tokens must be at least 16")


_QUOTES = {'"': '"', "'": "'", "«": "»", "“": "”", "„": "“"}


def tidy_reply(text: str) -> str:
    """A reply as a message: one space between words, and without the quotes a chat model often wraps
    its answer in."""
    text = " ".join(text.split())
    while len(text) > 2 and _QUOTES.get(text[0]) == text[-1] and text[1:-1].count(text[-1]) == 0:
        text = text[1:-1].strip()
    return text


def _prompt_key(chat: list[dict]) -> str:
    return hashlib.sha256(json.dumps(chat, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


class ReplyCache:
    """OUT/teacher.jsonl: one line per reply, keyed by teacher, brief and prompt (a changed brief or prompt
    template is asked again). Appended and flushed as replies arrive; a torn last line is skipped."""

    def __init__(self, folder: Path, teacher: Teacher) -> None:
        self.path = folder / CACHE_FILE
        self.label = teacher.label
        self.lock = threading.Lock()
        self.replies: dict[tuple[str, str], list[str]] = {}
        self.usage = {"tokens_in": 0, "tokens_out": 0}
        self.torn = False  # the file ends in a torn line (a crash mid-write): the next row starts a new line
        if self.path.is_file():
            raw = self.path.read_text(encoding="utf-8")
            self.torn = bool(raw) and not raw.endswith("\n")
            for line in raw.splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and row.get("teacher") == self.label and isinstance(row.get("text"), str):
                    self.replies.setdefault((str(row.get("brief_id")), str(row.get("prompt"))), []).append(row["text"])

    def get(self, brief_id: str, prompt: str) -> list[str]:
        return self.replies.get((brief_id, prompt), [])

    def add(self, brief_id: str, prompt: str, text: str, tokens_in: int, tokens_out: int) -> None:
        row = {"teacher": self.label, "brief_id": brief_id, "prompt": prompt, "text": text}
        with self.lock:
            self.replies.setdefault((brief_id, prompt), []).append(text)
            self.usage["tokens_in"] += tokens_in
            self.usage["tokens_out"] += tokens_out
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(("\n" if self.torn else "") + json.dumps(row, ensure_ascii=False) + "\n")
            self.torn = False


@dataclass
class TeacherEstimate:
    teacher: str
    briefs: int
    requests: int  # still to ask (the cache holds the rest)
    cached: int
    prompt_tokens: int
    output_tokens: int  # expected: as long as a template message for the same brief
    output_tokens_max: int  # every reply at max_tokens
    usd: float | None  # None: the catalog has no price for this model (or it runs on this machine)
    usd_max: float | None
    billed: bool  # False: the provider runs on this machine (no per-token bill)
    tokens_exact: bool
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TeacherStats:
    teacher: str = ""
    requested: int = 0
    received: int = 0
    from_cache: int = 0
    failed: int = 0
    clean: int = 0
    selected: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    estimate: dict = field(default_factory=dict)
    cache_file: str = ""


@dataclass
class _Work:
    brief: Brief
    chat: list[dict]
    key: str
    missing: int


def _plan(briefs: list[Brief], packs: dict[str, RulePack], teacher: Teacher, cache: ReplyCache) -> list[_Work]:
    work = []
    for brief in briefs:
        chat = build_prompt(brief, packs[brief.language])
        key = _prompt_key(chat)
        work.append(_Work(brief, chat, key, max(0, teacher.k - len(cache.get(brief.id, key)))))
    return work


def _counter(model: str) -> tuple[Callable[[list[dict]], int], Callable[[str], int], bool, str]:
    from orchestrator import tokens

    try:
        tok = tokens.resolve(model)
        return tok.count_chat, tok.count_text, tok.exact, tok.note
    except InputError:
        tok = tokens.ModelTokenizer(model, FALLBACK_ENCODING, "cookbook", exact=False)
        note = f"no tokenizer known for {model!r}: counted with {FALLBACK_ENCODING} (an approximation)"
        return tok.count_chat, tok.count_text, False, note


def _prices(provider: str, model: str, prices_file: str | None) -> tuple[float, float] | None:
    """$/1M (input, output) for the teacher: the base model's inference price, else what scoring uses."""
    from orchestrator.pricing import load_catalog
    from orchestrator.runs import inference_prices

    catalog = load_catalog(prices_file)
    try:
        p = catalog.price(provider, model, "inference")
        if p.inference_input_per_1m is not None and p.inference_output_per_1m is not None:
            return p.inference_input_per_1m, p.inference_output_per_1m
    except InputError:
        pass
    return inference_prices(catalog, provider, model)


def estimate(
    work: list[_Work],
    teacher: Teacher,
    expected_reply: dict[str, str],
    prices_file: str | None = None,
) -> TeacherEstimate:
    """What the requests still to ask will cost, before any is made. `expected_reply`: a template message
    per brief id, whose length stands in for the teacher's reply."""
    count_chat, count_text, exact, note = _counter(teacher.model)
    todo = [w for w in work if w.missing]
    prompt_tokens = sum(count_chat(w.chat) * w.missing for w in todo)
    output = sum(min(teacher.max_tokens, count_text(expected_reply.get(w.brief.id, ""))) * w.missing for w in todo)
    output_max = sum(teacher.max_tokens * w.missing for w in todo)
    billed = providers.facts(teacher.provider).billing != "gpu_hours"
    usd = usd_max = None
    prices = _prices(teacher.provider, teacher.model, prices_file) if billed else None
    if prices:
        usd = round((prompt_tokens * prices[0] + output * prices[1]) / 1e6, 4)
        usd_max = round((prompt_tokens * prices[0] + output_max * prices[1]) / 1e6, 4)
    elif billed:
        note = "; ".join(x for x in (note, f"no inference price for {teacher.label} in the catalog") if x)
    requests = sum(w.missing for w in todo)
    cached = teacher.k * len(work) - requests
    return TeacherEstimate(
        teacher.label, len(work), requests, cached, prompt_tokens, output, output_max, usd, usd_max, billed, exact, note
    )


def _ask_local(provider: providers.Provider, teacher: Teacher, work: list[_Work], cache: ReplyCache, tick) -> None:
    """The local backend generates many chats in one padded batch."""
    chats = [(w, i) for w in work for i in range(w.missing)]
    batch = 16
    for start in range(0, len(chats), batch):
        part = chats[start : start + batch]
        done = provider.complete_batch(  # type: ignore[attr-defined]
            teacher.model,
            [w.chat for w, _ in part],
            temperature=teacher.temperature,
            max_new_tokens=teacher.max_tokens,
            seed=len(cache.replies) * 1000 + start,  # sampled, yet the same on a rerun of the same state
        )
        for (w, _), c in zip(part, done, strict=True):
            cache.add(w.brief.id, w.key, tidy_reply(c.text), c.tokens_in, c.tokens_out)
            tick(True)


def _ask_remote(provider: providers.Provider, teacher: Teacher, work: list[_Work], cache: ReplyCache, tick) -> None:
    """One request per sample, `concurrency` at a time. A request the provider refuses as wrong (a bad
    model, a rejected key) stops the run at once; other failures are counted, and stop it when they
    outnumber the replies. Replies already received stay in the cache either way."""
    stop = threading.Event()

    def one(w: _Work) -> None:
        if stop.is_set():
            return
        try:
            c = provider.complete(teacher.model, w.chat, temperature=teacher.temperature, max_tokens=teacher.max_tokens)
        except (ProviderInputError, ProviderUnavailable):
            stop.set()
            raise
        except ProviderError:
            if tick(False):
                stop.set()
            return
        cache.add(w.brief.id, w.key, tidy_reply(c.text), c.tokens_in, c.tokens_out)
        tick(True)

    with ThreadPoolExecutor(max_workers=max(1, teacher.concurrency)) as pool:
        try:
            futures = [pool.submit(one, w) for w in work for _ in range(w.missing)]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: no request still queued is sent
            stop.set()
            raise
        stop_error = next((f.exception() for f in finished if f.exception() is not None), None)
        if stop_error is not None:
            stop.set()
    if stop_error is not None:
        raise stop_error


@dataclass
class Prepared:
    """Everything known before the first request: the provider, the cache, what to ask, its estimate."""

    teacher: Teacher
    provider: providers.Provider
    cache: ReplyCache
    work: list[_Work]
    estimate: TeacherEstimate


def prepare(
    briefs: list[Brief],
    packs: dict[str, RulePack],
    teacher: Teacher,
    folder: Path,
    expected_reply: dict[str, str],
    prices_file: str | None = None,
) -> Prepared:
    check_teacher(teacher)
    provider = providers.get_provider(teacher.provider)
    reason = provider.unavailable_reason()
    if reason:
        raise InputError(f"the teacher's provider {teacher.provider} cannot be used: {reason}")
    cache = ReplyCache(folder, teacher)
    work = _plan(briefs, packs, teacher, cache)
    return Prepared(teacher, provider, cache, work, estimate(work, teacher, expected_reply, prices_file))


def candidates(
    prepared: Prepared, stats: TeacherStats, progress: Progress | None = None
) -> list[tuple[Brief, list[Candidate]]]:
    """Ask what the cache lacks, then give each brief's replies as candidates."""
    teacher, cache, est = prepared.teacher, prepared.cache, prepared.estimate
    stats.teacher, stats.estimate, stats.cache_file = teacher.label, est.as_dict(), str(cache.path)
    stats.from_cache = est.cached
    total = est.requests
    counts = {"done": 0, "failed": 0, "ok": 0}
    lock = threading.Lock()

    def tick(ok: bool) -> bool:
        """Count a request; True when failures outnumber replies (past the first few)."""
        with lock:
            counts["done"] += 1
            counts["ok" if ok else "failed"] += 1
            if progress:
                progress("teacher", counts["done"], total)
            return counts["failed"] >= 10 and counts["failed"] > counts["ok"]

    todo = [w for w in prepared.work if w.missing]
    try:
        if todo and providers.capabilities(teacher.provider).batch_generation:
            _ask_local(prepared.provider, teacher, todo, cache, tick)
        elif todo:
            _ask_remote(prepared.provider, teacher, todo, cache, tick)
    finally:
        stats.requested, stats.received, stats.failed = total, counts["ok"], counts["failed"]
        stats.tokens_in, stats.tokens_out = cache.usage["tokens_in"], cache.usage["tokens_out"]
    if counts["failed"] >= 10 and counts["failed"] > counts["ok"]:
        raise ProviderError(
            f"the teacher failed {counts['failed']} of {counts['done']} requests; the {counts['ok']} replies "
            f"are kept in {cache.path}",
            fix="check the provider, then run the same command again: it asks only for what is missing",
        )
    out = []
    for w in prepared.work:
        texts = sorted(cache.get(w.brief.id, w.key))[: teacher.k]  # arrival order varies; the set does not
        out.append((w.brief, [Candidate(w.brief.id, teacher.template_id, "teacher", t) for t in texts if t]))
    return out


def describe(est: TeacherEstimate) -> str:
    """The estimate in a few lines, for the person about to confirm it."""
    cost = (
        "runs on this machine (no per-token bill)"
        if not est.billed
        else f"about ${est.usd:.4f} (at most ${est.usd_max:.4f} if every reply reaches max tokens)"
        if est.usd is not None and est.usd_max is not None
        else "price unknown"
    )
    counted = "exact" if est.tokens_exact else "approximate"
    lines = [
        f"Teacher {est.teacher}: {est.requests:,} requests for {est.briefs:,} briefs"
        + (f" ({est.cached:,} replies already in the cache)" if est.cached else ""),
        f"  {est.prompt_tokens:,} prompt tokens ({counted}), about {est.output_tokens:,} reply tokens "
        f"(at most {est.output_tokens_max:,}): {cost}",
    ]
    if est.note:
        lines.append(f"  note: {est.note}")
    return "\n".join(lines)


def confirmer(yes: bool, say: Callable[[str], None]) -> Callable[[TeacherEstimate], None]:
    """Shows the estimate; requests that are billed need --yes or a yes typed at a terminal."""

    def confirm(est: TeacherEstimate) -> None:
        say(describe(est))
        if yes or not est.billed:
            return
        if not sys.stdin.isatty():
            raise InputError(
                "the teacher's requests are billed and there is no terminal to confirm them; nothing was requested",
                fix="check the estimate above, then pass --yes",
            )
        import typer

        if not typer.confirm("Send these requests?", err=True):
            say("Nothing was requested.")
            raise typer.Exit(1)

    return confirm
