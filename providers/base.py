"""The provider protocol: what every fine-tuning backend offers, in the project's own types.

Adapters translate SDK objects and SDK exceptions into these types and into the project's exception
tree once, here at the boundary; nothing outside `providers/` sees an SDK object or branches on a
provider's name.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from providers.errors import ProviderError, ProviderUnavailable

# Dataset shapes, named by what a line holds (not by who takes it):
#   chat         {"messages": [system?, user, assistant, ...]}
#   instruction  {"prompt": ..., "completion": ...}
#   preference   {"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}
#   text         {"text": ...} (plain text, continued pre-training)
SHAPES = ("chat", "instruction", "preference", "text")
T = TypeVar("T")


class Status(StrEnum):
    PENDING = "pending"
    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})


@dataclass
class JobState:
    remote_id: str
    status: Status
    raw_status: str
    model: str | None = None
    result_model: str | None = None
    progress: float | None = None  # 0..1 when the provider tells
    metrics: dict[str, float] = field(default_factory=dict)
    trained_tokens: int | None = None
    billed_usd: float | None = None
    error: str | None = None
    created_at: float | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class JobEvent:
    remote_id: str
    created_at: float
    level: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    remote_id: str
    step: int | None
    model: str | None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    latency_s: float
    finish_reason: str | None = None


@dataclass(frozen=True)
class Capabilities:
    pause_resume: bool = False
    checkpoints: bool = True
    download: bool = False
    estimate_price: bool = False
    batch_generation: bool = False  # has complete_batch(model, list of chats, **params)
    dpo: bool = False  # takes preference (DPO) training data
    offline: bool = False  # needs no key and no network (the demo's and CI's backend)
    restart: bool = False  # a stopped job continues from its last good checkpoint (`adsft resume`)
    async_complete: bool = False  # has async_completions(connections): completions on an asyncio client


@dataclass(frozen=True)
class ProviderFacts:
    """Everything adsft needs to know about a provider without talking to it, declared on its class.

    The registry (providers/__init__.py) is the only place that reads these; nothing above `providers/`
    names a provider."""

    default_model: str
    # tokens_capped: each example up to the model's limit x epochs, validation free (OpenAI)
    # tokens_processed: epochs x training + evaluations x validation tokens (Together)
    # gpu_hours: tokens / throughput x $/GPU-hour (a GPU of your own)
    billing: Literal["tokens_capped", "tokens_processed", "gpu_hours"]
    shapes: tuple[str, ...]  # dataset shapes it trains on (SHAPES); the first is its usual one
    min_examples: int = 1
    model_pattern: str = r".*"  # model ids it claims when --model names no provider (r".*": any)
    aliases: tuple[str, ...] = ()  # model names it resolves itself (`tiny`): it then has resolve_model(name)
    key_env: tuple[str, ...] = ()  # environment variables that hold its API key (the first is advertised)
    base_url_env: str | None = None  # the SDK's base-URL variable, named in error messages
    auto_rank: int | None = None  # its place in the `auto` chain (low first); None: only when named
    price_id: str | None = None  # its name in the price catalog (default: its own name)
    auto_epochs: Literal["cookbook", "one", "three"] = "three"
    price_method: Literal["sft", "sft_by_method", "gpu_hour"] = "sft"  # catalog entry that prices training
    scoring_price_method: Literal["sft", "inference"] | None = None  # catalog entry holding inference prices
    alternation: Literal["error", "warning"] = "warning"  # roles that do not alternate
    methods: tuple[str, ...] | None = None  # the spec's training methods it takes (None: any)

    def needs_key(self) -> bool:
        return bool(self.key_env)


@dataclass(frozen=True)
class JobRequest:
    """What a provider needs to create a job; the hyperparameters are the spec's, already validated."""

    model: str
    training_file: str
    validation_file: str | None
    idempotency_key: str
    hyperparameters: dict[str, Any]
    suffix: str | None = None
    seed: int | None = None
    start_from: StartFrom | None = None  # DPO: the finished (SFT) job it continues from


@dataclass(frozen=True)
class StartFrom:
    """A finished job of the same provider that a new job continues from (and, for DPO, its reference)."""

    remote_id: str
    result_model: str | None


@runtime_checkable
class Provider(Protocol):
    name: str
    facts: ClassVar[ProviderFacts]
    capabilities: ClassVar[Capabilities]

    def unavailable_reason(self) -> str | None:
        """Why this provider cannot take jobs now (no key, ...), or None."""

    def check_model(self, model: str) -> None:
        """Raise ProviderUnavailable if the model cannot be fine-tuned here."""

    def upload(self, path: Path) -> str:
        """Upload a training file; return the provider's file id."""

    def create_job(self, request: JobRequest) -> JobState: ...

    def find_job(self, request: JobRequest, since: float) -> JobState | None:
        """A job already created for this request (recovery after a crash between create and record)."""

    def get_job(self, remote_id: str) -> JobState: ...

    def list_events(self, remote_id: str) -> list[JobEvent]: ...

    def list_checkpoints(self, remote_id: str) -> list[Checkpoint]: ...

    def cancel(self, remote_id: str) -> JobState: ...

    def pause(self, remote_id: str) -> JobState: ...

    def resume(self, remote_id: str) -> JobState: ...

    def download(self, remote_id: str, dest: Path, merged: bool = False) -> Path:
        """The result into `dest`: the adapter, or with `merged` the base with the adapter fused in."""

    def estimate_price(self, request: JobRequest) -> float | None: ...

    def complete(self, model: str, messages: list[dict], **params: Any) -> Completion: ...


def import_sdk(module: str) -> Any:
    """A provider SDK, imported when a request is made (the registry reads the adapters' facts without it)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ProviderUnavailable(f"the {module} package is not installed", fix="pip install 'adsft[remote]'") from None


def now() -> float:
    return time.time()


def request_timeout() -> float:
    """Seconds an SDK request may take (ADSFT_TIMEOUT, default 60)."""
    try:
        return max(0.1, float(os.environ.get("ADSFT_TIMEOUT") or 60))
    except ValueError:
        return 60.0


def upload_name(path: Path) -> str:
    """The name a file is uploaded under: its own, with a prefix of its SHA-256, so that the same bytes
    are found again by name and size after a lost reply (and different bytes never are)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"{path.stem}-{digest.hexdigest()[:12]}{path.suffix}"


def chat_completion(result: Any, started: float) -> Completion:
    """The project's Completion from an OpenAI-shaped chat completion (OpenAI's and Together's SDKs)."""
    choice = result.choices[0]
    usage = result.usage
    return Completion(
        choice.message.content or "",
        usage.prompt_tokens if usage else 0,
        usage.completion_tokens if usage else 0,
        time.perf_counter() - started,
        str(choice.finish_reason) if choice.finish_reason else None,
    )


AsyncComplete = Callable[..., Awaitable[Completion]]  # (model, messages, **params) -> Completion


def async_http_client(sdk: Any, limits: Any, timeout: float) -> Any:
    """The SDK's asyncio HTTP client with this connection pool: on aiohttp when the SDK can use it (far
    less CPU per request than the httpx transport with many connections open), else the SDK's default."""
    try:
        importlib.import_module("aiohttp")
        return sdk.DefaultAioHttpClient(limits=limits, timeout=timeout)
    except (ImportError, RuntimeError):  # RuntimeError: the SDK lacks its aiohttp bridge
        return sdk.DefaultAsyncHttpxClient(limits=limits, timeout=timeout)


@asynccontextmanager
async def async_chat_session(
    provider: str, translate: Any, client_class: Any, http_client: Any, **options: Any
) -> AsyncIterator[AsyncComplete]:
    """An OpenAI-shaped SDK's asyncio client on `http_client` (its pool sized by the caller to the
    requests it keeps in flight), as a completion function; the client is closed on exit."""
    client = client_class(http_client=http_client, **options)
    try:
        yield partial(chat_completion_async, provider, translate, client)
    finally:
        await client.close()


async def chat_completion_async(
    provider: str, translate: Any, client: Any, model: str, messages: list[dict], **params: Any
) -> Completion:
    """One chat completion through an SDK's asyncio client (OpenAI's and Together's), its exceptions
    translated exactly as `call_sdk` does for the synchronous clients.

    The request goes through the client's generic `post` (the SDK's auth, retries and status errors) with
    the body as plain JSON and the reply read as plain JSON: the typed `chat.completions.create` walks its
    parameter and reply types for every request, milliseconds of CPU that a scoring run at high
    concurrency spends on nothing else."""
    start = time.perf_counter()
    try:
        data = await client.post(
            "/chat/completions", body={"model": model, "messages": messages, **params}, cast_to=object
        )
    except ProviderError:
        raise
    except Exception as exc:
        translated = translate(exc, "generate")
        if translated is not exc:
            raise translated from None
        if isinstance(exc, ValueError | TypeError | KeyError | AttributeError):
            raise malformed(provider, "generate") from None
        raise
    try:
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        return Completion(
            choice["message"].get("content") or "",
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            time.perf_counter() - start,
            str(choice["finish_reason"]) if choice.get("finish_reason") else None,
        )
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        raise malformed(provider, "generate") from None


def malformed(provider: str, action: str) -> ProviderError:
    return ProviderError(
        f"{provider} sent a malformed reply while trying to {action}",
        fix=f"try again; if it persists, check the provider's base URL ({provider.upper()}_BASE_URL)",
        maybe_done=True,
    )


def call_sdk(provider: str, translate: Any, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call an SDK method; its exceptions become the project's (via `translate`), once, here.

    A reply the SDK could not parse (it hands back the raw body, or its JSON or model parsing raises) is a
    malformed reply: a ProviderError whose outcome is unknown (`maybe_done`)."""
    try:
        result = fn(*args, **kwargs)
    except ProviderError:
        raise
    except Exception as exc:
        translated = translate(exc, action)
        if translated is not exc:
            raise translated from None
        if isinstance(exc, ValueError | TypeError | KeyError | AttributeError):  # JSON or model parsing
            raise malformed(provider, action) from None
        raise
    if isinstance(result, str | bytes):
        raise malformed(provider, action)
    return result


def exactly_once(
    provider: str,
    action: str,
    attempt: Callable[[], T],
    find: Callable[[], T | None],
    attempts: int = 3,
    settle: float = 0.5,
) -> T:
    """Do a request that is not idempotent (create a job, upload a file) at most once on the server.

        `attempt` is called without SDK retries. After an ambiguous outcome (ProviderError.maybe_done: a 5xx,
        a timeout, a dropped connection, an unparsable reply) the server may have acted, so `find` looks for
        what it may have made, and only when it is sure none exists is the request sent again. A lookup that
        itself fails leaves the outcome unknown: that is an error (running the same command again looks
        first). `settle` seconds pass before each lookup (lists can lag behind creation), doubling each time;
    after a timeout, at least the request's own timeout (a slow request may still land)."""
    last: ProviderError | None = None
    for number in range(attempts):
        if last is not None:
            found = _look_up(provider, action, find, last, max(settle * 2 ** (number - 1), last.settle))
            if found is not None:
                return found
        try:
            return attempt()
        except ProviderError as exc:
            if not exc.maybe_done:
                raise
            last = exc
    assert last is not None
    found = _look_up(provider, action, find, last, max(settle * 2 ** (attempts - 1), last.settle))
    if found is not None:
        return found
    raise ProviderError(
        f"{provider} failed to {action} after {attempts} tries ({last.message}); nothing was created",
        fix=last.fix or "try again later",
    )


def _look_up(provider: str, action: str, find: Callable[[], T | None], cause: ProviderError, wait: float) -> T | None:
    time.sleep(wait)
    try:
        return find()
    except ProviderError as exc:
        raise ProviderError(
            f"{provider}: the request to {action} may have gone through ({cause.message}), and checking "
            f"failed ({exc.message})",
            fix="run the same command again: adsft looks for what it may have created before trying again",
        ) from None
