"""An outside provider, installed the way a user's plugin would be: a package with an `adsft.providers`
entry point (tests/plugin/site holds it and its dist-info; the test puts that folder on sys.path).

It is one module: its facts and capabilities as data, a key variable, and a fake service in memory (a
queue of canned completions and a `history` of calls, as simonw/llm's fake model has). It names no
adsft pipeline module: only `providers.base` and `providers.keys`, as any provider would.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, ClassVar

from providers.base import (
    Capabilities,
    Checkpoint,
    Completion,
    JobEvent,
    JobRequest,
    JobState,
    ProviderFacts,
    Status,
)
from providers.errors import ProviderError, ProviderUnavailable
from providers.keys import get_key, key_hint

FLOW = [Status.QUEUED, Status.RUNNING, Status.SUCCEEDED]


class EchoProvider:
    name = "echo"
    facts = ProviderFacts(
        default_model="echo-org/Meta-Llama-3.1-8B-Instruct",
        billing="tokens_processed",
        shapes=("chat",),
        min_examples=2,
        model_pattern=r"echo-org/",
        key_env=("ECHO_API_KEY",),
        auto_rank=None,  # only when named
        price_id="echo-cloud",
        auto_epochs="one",
        price_method="sft",
        scoring_price_method="sft",
    )
    capabilities = Capabilities(checkpoints=False)

    jobs: ClassVar[dict[str, dict]] = {}
    history: ClassVar[list[tuple[str, Any]]] = []
    completions: ClassVar[list[str]] = []  # canned replies, used in turn (the last one repeats)
    _ids = itertools.count(1)

    def _key(self) -> str:
        key = get_key(self.name)
        if not key:
            raise ProviderUnavailable("no Echo API key", fix=key_hint(self.name))
        return key

    def unavailable_reason(self) -> str | None:
        return None if get_key(self.name) else f"no Echo API key ({key_hint(self.name)})"

    def check_model(self, model: str) -> None:
        if not model.startswith("echo-org/"):
            raise ProviderUnavailable(f"echo cannot fine-tune {model!r}")

    def upload(self, path: Path) -> str:
        self._key()
        self.history.append(("upload", path.name))
        return f"file-{len(self.history)}"  # a fake service: the bytes are not sent anywhere

    def _state(self, remote_id: str) -> JobState:
        job = self.jobs[remote_id]
        status = FLOW[min(job["step"], len(FLOW) - 1)]
        done = status is Status.SUCCEEDED
        return JobState(
            remote_id=remote_id,
            status=status,
            raw_status=status.value,
            model=job["model"],
            result_model=f"{job['model']}:tuned-{remote_id}" if done else None,
            trained_tokens=1234 if done else None,
            created_at=job["created"],
        )

    def create_job(self, request: JobRequest) -> JobState:
        key = self._key()
        remote_id = f"echo-{next(self._ids)}"
        self.jobs[remote_id] = {"model": request.model, "step": 0, "created": time.time(), "key": key}
        self.history.append(("create_job", request))
        return self._state(remote_id)

    def find_job(self, request: JobRequest, since: float) -> JobState | None:
        return None

    def get_job(self, remote_id: str) -> JobState:
        if remote_id not in self.jobs:
            raise ProviderError(f"echo: no job {remote_id}")
        self.jobs[remote_id]["step"] += 1
        return self._state(remote_id)

    def list_events(self, remote_id: str) -> list[JobEvent]:
        # a careless service that echoes the credentials back: adsft must redact them
        key = self.jobs[remote_id]["key"]
        return [JobEvent(f"{remote_id}:1", self.jobs[remote_id]["created"], "info", f"authorised with {key}")]

    def list_checkpoints(self, remote_id: str) -> list[Checkpoint]:
        return []

    def cancel(self, remote_id: str) -> JobState:
        self.jobs[remote_id]["step"] = 0
        return self._state(remote_id)

    def pause(self, remote_id: str) -> JobState:
        raise ProviderError("echo jobs cannot be paused")

    resume = pause

    def download(self, remote_id: str, dest: Path, merged: bool = False) -> Path:
        raise ProviderError("echo keeps its weights")

    def estimate_price(self, request: JobRequest) -> float | None:
        return None

    def complete(self, model: str, messages: list[dict], **params: Any) -> Completion:
        self._key()
        self.history.append(("complete", model))
        text = self.completions.pop(0) if len(self.completions) > 1 else (self.completions or ["ok"])[0]
        return Completion(text, 10, len(text.split()), 0.001, "stop")
