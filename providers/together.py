"""Together fine-tuning through the official SDK (3.x). Base URL from TOGETHER_BASE_URL. Uploads go
through the SDK's own file check and three-step upload (keyed by checksum: a repeat answers 409 with the
file's id). Creating a job goes without SDK retries through `exactly_once`: after an ambiguous outcome the
job is looked for by its files, model, suffix and seed before it is created again. HTTP 403
`training_not_available` becomes ProviderUnavailable, which a fallback chain moves past. The model's limits
are checked before a job is created; Together's own price estimate is shown beside ours."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers.archive import unpack
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
)
from providers.errors import ProviderError, ProviderInputError, ProviderUnavailable
from providers.keys import get_key, key_hint, redact

if TYPE_CHECKING:
    import together


def _sdk():
    return import_sdk("together")


STATUS = {
    "pending": Status.PENDING,
    "queued": Status.QUEUED,
    "running": Status.RUNNING,
    "compressing": Status.RUNNING,
    "uploading": Status.RUNNING,
    "cancel_requested": Status.RUNNING,
    "cancelled": Status.CANCELLED,
    "error": Status.FAILED,
    "user_error": Status.FAILED,
    "completed": Status.SUCCEEDED,
}
CREATE_ARGS = (
    "n_epochs",
    "n_evals",
    "n_checkpoints",
    "batch_size",
    "learning_rate",
    "lora",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_trainable_modules",
    "train_on_inputs",
    "warmup_ratio",
    "early_stopping_enabled",
    "early_stopping_patience",
)


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _translate(exc: Exception, action: str) -> Exception:
    sdk = _sdk()
    status = getattr(exc, "status_code", None)
    if isinstance(exc, sdk.APIStatusError) or status is not None:
        message = redact(str(getattr(exc, "message", exc)))
        if status == 403 and "training_not_available" in f"{message} {getattr(exc, 'body', '')}":
            return ProviderUnavailable(
                "Together: fine-tuning is not available to this account (training_not_available)",
                fix="use another provider, or a provider chain such as together,local",
            )
        if status == 401:
            return ProviderUnavailable("Together rejected the API key (401)", fix=key_hint("together"))
        if status in (400, 422):
            return ProviderInputError(
                f"Together refused to {action}: {message}", fix="check the job spec and the dataset"
            )
        return ProviderError(
            f"Together failed to {action} (HTTP {status}): {message}",
            fix="try again later",
            maybe_done=status is None or status < 400 or status >= 500 or status in (408, 409, 429),
        )
    if isinstance(exc, sdk.APIConnectionError | sdk.APITimeoutError):
        return ProviderError(
            f"Together could not be reached to {action}: {type(exc).__name__}",
            fix="check the network or TOGETHER_BASE_URL",
            maybe_done=True,
            settle=request_timeout() if isinstance(exc, sdk.APITimeoutError) else 0.0,
        )
    import httpx  # the SDK PUTs upload bytes with its httpx client directly: its errors come through raw

    if isinstance(exc, httpx.TransportError):
        return ProviderError(
            f"Together could not be reached to {action}: {type(exc).__name__}",
            fix="check the network or TOGETHER_BASE_URL",
            maybe_done=True,
            settle=request_timeout() if isinstance(exc, httpx.TimeoutException) else 0.0,
        )
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return ProviderError(f"Together: the connection failed while trying to {action}", maybe_done=True)
    if type(exc).__name__ == "FileTypeError":
        return ProviderInputError(
            f"Together's file check refused the dataset: {redact(str(exc))}",
            fix="run `adsft validate FILE --provider together`",
        )
    return exc


def _checked_id(obj: Any, action: str) -> str:
    """The object's id; a reply without one (an empty or foreign JSON body) is a malformed reply."""
    value = getattr(obj, "id", None)
    if not isinstance(value, str) or not value:
        raise malformed("Together", action)
    return value


def _same(reported: Any, wanted: Any, name: str) -> bool:
    """A listed job's field matches the request's. The files and the model must match; a suffix, seed or
    epoch count that the request leaves unset, or the listing leaves out, is not held against it."""
    if name in ("training_file", "model"):
        return reported == wanted
    if name == "validation_file":
        return (reported or None) == (wanted or None)
    return wanted is None or reported in (None, "") or reported == wanted


class TogetherProvider:
    name = "together"
    facts = ProviderFacts(
        default_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        billing="tokens_processed",
        shapes=("chat", "instruction", "preference", "text"),
        min_examples=1,
        model_pattern=r".*",
        key_env=("TOGETHER_API_KEY",),
        base_url_env="TOGETHER_BASE_URL",
        auto_rank=20,
        auto_epochs="one",
        price_method="sft_by_method",
        scoring_price_method="inference",
        alternation="error",
    )
    capabilities = Capabilities(
        pause_resume=False, checkpoints=True, download=True, estimate_price=True, dpo=True, async_complete=True
    )

    def __init__(self, max_retries: int = 5, timeout: float | None = None) -> None:
        self.max_retries = max_retries
        self.timeout = timeout if timeout is not None else request_timeout()
        self._client: together.Together | None = None

    @property
    def client(self) -> together.Together:
        if self._client is None:
            key = get_key(self.name)
            if not key:
                raise ProviderUnavailable("no Together API key", fix=key_hint(self.name))
            self._client = _sdk().Together(api_key=key, max_retries=self.max_retries, timeout=self.timeout)
        return self._client

    @property
    def once(self) -> together.Together:
        """The client without SDK retries: for requests that are not idempotent (see exactly_once)."""
        return self.client.with_options(max_retries=0)

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return call_sdk("Together", _translate, action, fn, *args, **kwargs)

    def unavailable_reason(self) -> str | None:
        return None if get_key(self.name) else f"no Together API key ({key_hint(self.name)})"

    def check_model(self, model: str) -> None:
        try:
            self.client.fine_tuning.model_limits(model_name=model)
        except Exception as exc:
            if getattr(exc, "status_code", None) in (400, 404):
                raise ProviderUnavailable(
                    f"Together cannot fine-tune {model!r}", fix="pick a model from Together's fine-tuning list"
                ) from None
            translated = _translate(exc, "read the model's limits")
            raise translated from None

    def upload(self, path: Path) -> str:
        """Upload once: Together keys files by their checksum (a second POST answers 409 with the file's id,
        which the SDK turns into that file), so after an ambiguous failure the upload is simply sent again."""

        def attempt() -> str:
            result = self._call("upload the file", self.client.files.upload, file=path, purpose="fine-tune", check=True)
            return _checked_id(result, "upload the file")

        return exactly_once("Together", "upload the file", attempt, lambda: None)

    def _state(self, job: Any) -> JobState:
        _checked_id(job, "read the job")
        raw = str(job.status.value if hasattr(job.status, "value") else job.status)
        price = getattr(job, "total_price", None)
        error = None
        if raw in ("error", "user_error"):
            messages = [e.message for e in (job.events or []) if getattr(e, "level", None) == "error"]
            error = redact(messages[-1] if messages else f"job ended with status {raw}")
        return JobState(
            remote_id=job.id,
            status=STATUS.get(raw, Status.PENDING),
            raw_status=raw,
            model=job.model,
            result_model=getattr(job, "x_model_output_name", None) or getattr(job, "output_name", None),
            trained_tokens=getattr(job, "token_count", None),
            billed_usd=price / 1e9 if price else None,
            error=error,
            created_at=_ts(job.created_at),
        )

    def _create_kwargs(self, request: JobRequest) -> dict[str, Any]:
        hp = {k: v for k, v in request.hyperparameters.items() if k in CREATE_ARGS and v is not None}
        kwargs: dict[str, Any] = {
            "training_file": request.training_file,
            "model": request.model,
            "validation_file": request.validation_file or "",
            "suffix": request.suffix,
            "random_seed": request.seed,
        }
        if request.hyperparameters.get("method") != "dpo":
            hp.setdefault("train_on_inputs", "auto")
            return {**kwargs, **hp}
        hp.pop("train_on_inputs", None)  # SFT only: the SDK refuses it for DPO
        kwargs["training_method"] = "dpo"
        if request.hyperparameters.get("beta") is not None:
            kwargs["dpo_beta"] = request.hyperparameters["beta"]
        if request.start_from is not None:
            # continue from the SFT job: the SDK takes a model or a checkpoint, not both, and reads the base
            # model's limits for the checkpoint, which it cannot look up by a job id
            kwargs.update(model=None, from_checkpoint=request.start_from.remote_id)
            kwargs["model_limits"] = self._call(
                "read the model's limits", self.client.fine_tuning.model_limits, model_name=request.model
            )
        return {**kwargs, **hp}

    def create_job(self, request: JobRequest) -> JobState:
        kwargs = self._create_kwargs(request)
        since = time.time()

        def attempt() -> JobState:
            return self._state(self._call("create the job", self.once.fine_tuning.create, **kwargs))

        return exactly_once("Together", "create the job", attempt, lambda: self.find_job(request, since))

    def find_job(self, request: JobRequest, since: float) -> JobState | None:
        """The newest job made for this request since `since` (Together takes no idempotency key): the same
        training and validation files, model, suffix, seed and epochs, where the listing reports them."""
        jobs = self._call("list jobs", self.client.fine_tuning.list)
        wanted = {
            "training_file": request.training_file,
            "model": request.model,
            "validation_file": request.validation_file or None,
            "suffix": request.suffix,
            "random_seed": request.seed,
            "n_epochs": request.hyperparameters.get("n_epochs"),
        }
        found = []
        for job in getattr(jobs, "data", None) or []:
            created = _ts(getattr(job, "created_at", None)) or 0
            if created < since - 120:  # the server's clock may differ from ours
                continue
            if all(_same(getattr(job, k, None), v, k) for k, v in wanted.items()):
                found.append((created, job))
        return self._state(max(found, key=lambda pair: pair[0])[1]) if found else None

    def get_job(self, remote_id: str) -> JobState:
        return self._state(self._call("get the job", self.client.fine_tuning.retrieve, remote_id))

    def list_events(self, remote_id: str) -> list[JobEvent]:
        data = self._call("list events", self.client.fine_tuning.list_events, remote_id).data
        return [
            JobEvent(
                f"{e.created_at}:{i}",
                _ts(e.created_at) or 0.0,
                str(e.level or "info"),
                redact(e.message),
                {"type": e.type},
            )
            for i, e in enumerate(data)
        ]

    def list_checkpoints(self, remote_id: str) -> list[Checkpoint]:
        data = self._call("list checkpoints", self.client.fine_tuning.list_checkpoints, remote_id).data
        return [Checkpoint(f"{c.step}:{c.checkpoint_type}", c.step, c.path) for c in data]

    def cancel(self, remote_id: str) -> JobState:
        self._call("cancel the job", self.client.fine_tuning.cancel, remote_id)
        return self.get_job(remote_id)

    def pause(self, remote_id: str) -> JobState:
        raise ProviderError("Together jobs cannot be paused", fix="cancel and start again from a checkpoint")

    resume = pause

    def download(self, remote_id: str, dest: Path, merged: bool = False) -> Path:
        """The weights into the folder `dest`, unpacked by content (Together sends a zstd tar; a zip or a
        plain tar is unpacked too), ready for `PeftModel.from_pretrained(base, dest)`."""
        kind = "merged" if merged else "adapter"
        response = self._call(
            f"download the {kind} model", self.client.fine_tuning.content, ft_id=remote_id, checkpoint=kind
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".download")
        with part.open("wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
        try:
            return unpack(part, dest)
        finally:
            part.unlink(missing_ok=True)

    def estimate_price(self, request: JobRequest) -> float | None:
        hp = request.hyperparameters
        result = self._call(
            "estimate the price",
            self.client.fine_tuning.estimate_price,
            training_file=request.training_file,
            model=request.model,
            n_epochs=hp.get("n_epochs") or 1,
            n_evals=hp.get("n_evals") or 0,
            validation_file=request.validation_file or _sdk().omit,
            training_type={"type": "Lora", "lora_r": hp.get("lora_r") or 8}
            if hp.get("lora", True)
            else {"type": "Full"},
            training_method={"method": "dpo" if hp.get("method") == "dpo" else "sft"},
            from_checkpoint=request.start_from.remote_id if request.start_from else _sdk().omit,
        )
        return getattr(result, "estimated_total_price", None)

    def complete(self, model: str, messages: list[dict], **params: Any) -> Completion:
        start = time.perf_counter()
        result = self._call("generate", self.client.chat.completions.create, model=model, messages=messages, **params)
        return chat_completion(result, start)

    @asynccontextmanager
    async def async_completions(self, connections: int) -> AsyncIterator[AsyncComplete]:
        """Completions on the SDK's asyncio client, its connection pool sized to `connections`."""
        key = get_key(self.name)
        if not key:
            raise ProviderUnavailable("no Together API key", fix=key_hint(self.name))
        sdk = _sdk()
        limits = import_sdk("httpx").Limits(max_connections=connections, max_keepalive_connections=connections)
        options = {"api_key": key, "max_retries": self.max_retries, "timeout": self.timeout}
        async with async_chat_session(
            "Together", _translate, sdk.AsyncTogether, async_http_client(sdk, limits, self.timeout), **options
        ) as complete:
            yield complete
