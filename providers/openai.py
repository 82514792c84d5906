"""OpenAI fine-tuning through the official SDK (3.x). Base URL from OPENAI_BASE_URL, key from the
environment or the key file. The SDK retries reads (2 times, honouring Retry-After). Creating a job and
uploading a file are not idempotent: they go without SDK retries through `exactly_once`, which looks the
job up (by the idempotency key in its `metadata`) or the file (by its content-named filename and size)
after any ambiguous outcome before sending again. HTTP 403 `training_not_available` (fine-tuning is being
wound down) becomes ProviderUnavailable, which a fallback chain moves past."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers.base import (
    AsyncComplete,
    Capabilities,
    Checkpoint,
    Completion,
    JobEvent,
    JobRequest,
    JobState,
    ProviderFacts,
    Status,
    async_chat_session,
    async_http_client,
    call_sdk,
    chat_completion,
    exactly_once,
    import_sdk,
    malformed,
    request_timeout,
    upload_name,
)
from providers.errors import ProviderError, ProviderInputError, ProviderUnavailable
from providers.keys import get_key, key_hint, redact

if TYPE_CHECKING:
    import openai


def _sdk():
    return import_sdk("openai")


STATUS = {
    "validating_files": Status.VALIDATING,
    "queued": Status.QUEUED,
    "running": Status.RUNNING,
    "succeeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELLED,
    "pausing": Status.PAUSED,
    "paused": Status.PAUSED,
}
KEY_METADATA = "adsft_key"


def _translate(exc: Exception, action: str) -> Exception:
    """SDK exceptions become the project's, once, here; keys never appear in the message."""
    sdk = _sdk()
    if isinstance(exc, sdk.APIStatusError):
        code = getattr(exc, "code", None) or ""
        message = redact(str(getattr(exc, "message", exc)))
        if exc.status_code == 403 and "training_not_available" in f"{code} {message}":
            return ProviderUnavailable(
                f"OpenAI: fine-tuning is not available to this account ({code})",
                fix="use --provider together or local, or a provider chain such as openai,together,local",
            )
        if exc.status_code == 401:
            return ProviderUnavailable("OpenAI rejected the API key (401)", fix=key_hint("openai"))
        if exc.status_code == 400:
            return ProviderInputError(
                f"OpenAI refused to {action}: {message}", fix="check the job spec and the dataset"
            )
        if exc.status_code == 404:
            return ProviderError(f"OpenAI: not found while trying to {action}: {message}")
        return ProviderError(
            f"OpenAI failed to {action} (HTTP {exc.status_code}): {message}",
            fix="try again later",
            maybe_done=exc.status_code >= 500 or exc.status_code in (408, 409, 429),
        )
    if isinstance(exc, sdk.APIConnectionError | sdk.APITimeoutError):
        return ProviderError(
            f"OpenAI could not be reached to {action}: {type(exc).__name__}",
            fix="check the network or OPENAI_BASE_URL",
            maybe_done=True,
            settle=request_timeout() if isinstance(exc, sdk.APITimeoutError) else 0.0,
        )
    return exc


def _method(request: JobRequest, hp: dict[str, Any]) -> dict[str, Any]:
    """The job's `method`: supervised, or DPO with its `beta` among the hyperparameters."""
    if request.hyperparameters.get("method") == "dpo":
        beta = request.hyperparameters.get("beta")
        return {"type": "dpo", "dpo": {"hyperparameters": {**hp, **({"beta": beta} if beta is not None else {})}}}
    return {"type": "supervised", "supervised": {"hyperparameters": hp}}


def _checked_id(obj: Any, action: str) -> str:
    """The object's id; a reply without one (an empty or foreign JSON body) is a malformed reply."""
    value = getattr(obj, "id", None)
    if not isinstance(value, str) or not value:
        raise malformed("OpenAI", action)
    return value


class OpenAIProvider:
    name = "openai"
    facts = ProviderFacts(
        default_model="gpt-4o-mini-2024-07-18",
        billing="tokens_capped",
        shapes=("chat", "preference"),
        min_examples=10,
        model_pattern=r"(ft:)?(gpt-|o1|o3|o4)",
        key_env=("OPENAI_API_KEY",),
        base_url_env="OPENAI_BASE_URL",
        auto_rank=10,
        auto_epochs="cookbook",
        price_method="sft",
        scoring_price_method="sft",
        alternation="warning",
    )
    capabilities = Capabilities(
        pause_resume=True, checkpoints=True, download=False, estimate_price=False, dpo=True, async_complete=True
    )

    def __init__(self, max_retries: int = 2, timeout: float | None = None) -> None:
        self.max_retries = max_retries
        self.timeout = timeout if timeout is not None else request_timeout()
        self._client: openai.OpenAI | None = None

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            key = get_key(self.name)
            if not key:
                raise ProviderUnavailable("no OpenAI API key", fix=key_hint(self.name))
            self._client = _sdk().OpenAI(api_key=key, max_retries=self.max_retries, timeout=self.timeout)
        return self._client

    @property
    def once(self) -> openai.OpenAI:
        """The client without SDK retries: for requests that are not idempotent (see exactly_once)."""
        return self.client.with_options(max_retries=0)

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return call_sdk("OpenAI", _translate, action, fn, *args, **kwargs)

    def unavailable_reason(self) -> str | None:
        return None if get_key(self.name) else f"no OpenAI API key ({key_hint(self.name)})"

    def check_model(self, model: str) -> None:
        return None  # OpenAI answers at creation; a refused model is a 400 with a clear message

    def upload(self, path: Path) -> str:
        """Upload once: the file is named by its content (name-<sha256 prefix>.jsonl) and looked up by that
        name and size before it is sent, and again after any ambiguous failure."""
        name, size = upload_name(path), path.stat().st_size

        def attempt() -> str:
            with path.open("rb") as handle:
                result = self._call("upload the file", self.once.files.create, file=(name, handle), purpose="fine-tune")
            return _checked_id(result, "upload the file")

        find = lambda: self.find_file(name, size)  # noqa: E731
        return find() or exactly_once("OpenAI", "upload the file", attempt, find)

    def find_file(self, name: str, size: int) -> str | None:
        page = self._call("list files", self.client.files.list, purpose="fine-tune", order="desc", limit=100)
        for number, item in enumerate(page):  # iterating the page follows the cursor through every page
            if getattr(item, "filename", None) == name and getattr(item, "bytes", None) == size:
                return item.id
            if number >= 1000:
                break
        return None

    def _state(self, job: Any) -> JobState:
        _checked_id(job, "read the job")
        error = None
        if getattr(job, "error", None) and getattr(job.error, "message", None):
            error = redact(f"{job.error.code}: {job.error.message}" if job.error.code else job.error.message)
        return JobState(
            remote_id=job.id,
            status=STATUS.get(job.status, Status.PENDING),
            raw_status=job.status,
            model=job.model,
            result_model=job.fine_tuned_model,
            trained_tokens=job.trained_tokens,
            error=error,
            created_at=float(job.created_at) if job.created_at else None,
        )

    def create_job(self, request: JobRequest) -> JobState:
        hp = {
            k: v
            for k, v in request.hyperparameters.items()
            if k in ("n_epochs", "batch_size", "learning_rate_multiplier") and v is not None
        }
        sdk = _sdk()
        method = _method(request, hp)
        # a DPO job continues from its SFT job by fine-tuning that job's model further
        model = request.start_from.result_model if request.start_from and request.start_from.result_model else None

        def attempt() -> JobState:
            job = self._call(
                "create the job",
                self.once.fine_tuning.jobs.create,
                model=model or request.model,
                training_file=request.training_file,
                validation_file=request.validation_file or sdk.omit,
                method=method,
                suffix=request.suffix or sdk.omit,
                seed=request.seed if request.seed is not None else sdk.omit,
                metadata={KEY_METADATA: request.idempotency_key[:64]},
            )
            return self._state(job)

        return exactly_once("OpenAI", "create the job", attempt, lambda: self.find_job(request, 0.0))

    def find_job(self, request: JobRequest, since: float) -> JobState | None:
        page = self._call(
            "list jobs",
            self.client.fine_tuning.jobs.list,
            metadata={KEY_METADATA: request.idempotency_key[:64]},
            limit=10,
        )
        for job in getattr(page, "data", None) or []:  # newest first
            if (getattr(job, "metadata", None) or {}).get(KEY_METADATA) == request.idempotency_key[:64]:
                return self._state(job)
        return None

    def get_job(self, remote_id: str) -> JobState:
        return self._state(self._call("get the job", self.client.fine_tuning.jobs.retrieve, remote_id))

    def list_events(self, remote_id: str) -> list[JobEvent]:
        page = self._call("list events", self.client.fine_tuning.jobs.list_events, remote_id, limit=100)
        events = [
            JobEvent(e.id, float(e.created_at), e.level, redact(e.message), dict(e.data or {})) for e in page
        ]  # iterating the page follows `after` cursors through every page
        return sorted(events, key=lambda e: e.created_at)

    def list_checkpoints(self, remote_id: str) -> list[Checkpoint]:
        page = self._call("list checkpoints", self.client.fine_tuning.jobs.checkpoints.list, remote_id)
        return [
            Checkpoint(
                c.id,
                c.step_number,
                c.fine_tuned_model_checkpoint,
                {k: v for k, v in (c.metrics.model_dump() if c.metrics else {}).items() if v is not None},
            )
            for c in page
        ]

    def cancel(self, remote_id: str) -> JobState:
        return self._state(self._call("cancel the job", self.client.fine_tuning.jobs.cancel, remote_id))

    def pause(self, remote_id: str) -> JobState:
        return self._state(self._call("pause the job", self.client.fine_tuning.jobs.pause, remote_id))

    def resume(self, remote_id: str) -> JobState:
        return self._state(self._call("resume the job", self.client.fine_tuning.jobs.resume, remote_id))

    def download(self, remote_id: str, dest: Path, merged: bool = False) -> Path:
        raise ProviderError("OpenAI keeps fine-tuned weights; use the result model id for generation")

    def estimate_price(self, request: JobRequest) -> float | None:
        return None

    def complete(self, model: str, messages: list[dict], **params: Any) -> Completion:
        start = time.perf_counter()
        result = self._call("generate", self.client.chat.completions.create, model=model, messages=messages, **params)
        return chat_completion(result, start)

    @asynccontextmanager
    async def async_completions(self, connections: int) -> AsyncIterator[AsyncComplete]:
        """Completions on the SDK's asyncio client, its connection pool sized to `connections`."""
        key = get_key(self.name)
        if not key:
            raise ProviderUnavailable("no OpenAI API key", fix=key_hint(self.name))
        sdk = _sdk()
        limits = import_sdk("httpx2").Limits(max_connections=connections, max_keepalive_connections=connections)
        options = {"api_key": key, "max_retries": self.max_retries, "timeout": self.timeout}
        async with async_chat_session(
            "OpenAI", _translate, sdk.AsyncOpenAI, async_http_client(sdk, limits, self.timeout), **options
        ) as complete:
            yield complete
