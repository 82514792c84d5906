"""The local backend: LoRA and friends with transformers + peft on this machine's GPU (or CPU).

A job runs in a detached worker process (providers.local.worker) that writes its state, events,
checkpoints and adapter to a job folder under ADSFT_HOME/local; this provider reads that folder the way
the remote adapters read an API, so `adsft status / watch / cancel / download` work the same way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

# quiet libraries: progress bars and advice go nowhere useful in a worker's log or the CLI's stderr
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from a model hub unless the user says so

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
from providers.errors import ProviderError, ProviderInputError, ProviderUnavailable
from providers.local.defaults import dpo_settings, train_settings
from providers.local.jobstore import JobStore
from providers.paths import home

TINY = ("tiny", "embedded")  # the embedded tiny base for tests (providers.local.tiny), built once and cached
SMOLLM2 = ("smollm2", "smollm2-135m")  # the demo's student, converted once from its GGUF (providers.local.smollm2)
ALIASES = TINY + SMOLLM2


def jobs_root() -> Path:
    return home() / "local" / "jobs"


def resolve_model(model: str) -> str:
    """A model folder for `model`: an alias's base is built or converted (once, cached)."""
    if model in TINY:
        from providers.local.tiny import build

        return str(build())
    if model in SMOLLM2:
        from providers.local.smollm2 import build as convert

        return str(convert())
    return model


def _looks_like_path(model: str) -> bool:
    """A model name meant as a folder (./x, ../x, /x, ~/x, or a/b whose first part is a folder here)."""
    return model.startswith((".", "/", "~")) or ("/" in model and Path(model.split("/", 1)[0]).is_dir())


def tokenizer_model(model: str) -> str:
    """A folder to count `model`'s tokens with: for `tiny`, its tokenizer alone (never a pre-training run)."""
    if model in TINY:
        from providers.local.tiny import tokenizer_folder

        return str(tokenizer_folder())
    return resolve_model(model)


class LocalProvider:
    name = "local"
    facts = ProviderFacts(
        default_model="Llama-3.2-1B",
        billing="gpu_hours",
        shapes=("chat", "instruction", "preference"),
        min_examples=1,
        model_pattern=r".*",
        aliases=ALIASES,
        auto_rank=90,  # the last resort of `auto`: needs no key
        auto_epochs="three",
        price_method="gpu_hour",
        scoring_price_method=None,
        alternation="warning",
        methods=("lora", "dora", "adalora", "prompt_lora", "qlora", "dpo"),  # adapters; dpo: providers.local.dpo
    )
    capabilities = Capabilities(
        pause_resume=False,
        checkpoints=True,
        download=True,
        estimate_price=False,
        batch_generation=True,
        dpo=True,
        offline=True,
        restart=True,
    )

    def resolve_model(self, model: str) -> str:
        return resolve_model(model)

    def tokenizer_model(self, model: str) -> str:
        return tokenizer_model(model)

    def unavailable_reason(self) -> str | None:
        missing = [m for m in ("torch", "transformers", "peft") if importlib.util.find_spec(m) is None]
        return f"missing {', '.join(missing)} (pip install 'adsft[local]')" if missing else None

    def check_model(self, model: str) -> None:
        if model in ALIASES:
            return
        path = Path(model)
        if path.exists() and not (path / "config.json").is_file():
            raise ProviderInputError(
                f"{model} is not a Hugging Face model folder (no config.json)",
                fix="pass a model folder with config.json and weights, or `tiny`",
            )
        if path.exists():
            return
        if _looks_like_path(model):  # a misspelt folder: bad input, never a trip to the model hub
            raise ProviderInputError(
                f"local: no model folder {str(path.expanduser().absolute())!r}",
                fix="check the path (a model folder with config.json and weights), or use `tiny`",
            )
        if "/" not in model:
            raise ProviderUnavailable(
                f"local: no model folder {model!r}", fix="pass a local folder, `smollm2` or `tiny`"
            )
        if os.environ.get("HF_HUB_OFFLINE", "1") not in ("0", "false", "False"):
            raise ProviderUnavailable(
                f"local: no model folder {model!r}, and the model hub is off (HF_HUB_OFFLINE=1)",
                fix="pass a local model folder, or set HF_HUB_OFFLINE=0 to let transformers fetch hub ids",
            )

    def upload(self, path: Path) -> str:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        target = home() / "local" / "files" / f"{digest[:16]}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(path, target)
        return str(target)

    def _config(self, request: JobRequest) -> dict[str, Any]:
        """The worker's TrainConfig: what the spec set, else the model's recipe (providers.local.defaults)."""
        hp = request.hyperparameters
        chosen = {
            "method": hp.get("method"),
            "r": hp.get("lora_r"),
            "alpha": hp.get("lora_alpha"),
            "dropout": hp.get("lora_dropout"),
            "epochs": hp.get("n_epochs"),
            "learning_rate": hp.get("learning_rate"),
        }
        chosen = {k: v for k, v in chosen.items() if v is not None}
        if hp.get("method") == "dpo":  # providers.local.dpo: from the SFT job's adapter, which is the reference
            chosen.update({"beta": hp.get("beta")} if hp.get("beta") is not None else {})
            if request.start_from is not None:
                chosen["reference_adapter"] = request.start_from.result_model
            config = dpo_settings(request.model, chosen)
        else:
            config = train_settings(request.model, chosen)
        # an alias is resolved here, in the submitting process: the worker gets a model folder
        config.update(
            base_model=resolve_model(request.model),
            training_file=request.training_file,
            validation_file=request.validation_file,
            seed=request.seed or 0,
        )
        return config

    def create_job(self, request: JobRequest) -> JobState:
        remote_id = "local-" + uuid.uuid4().hex[:12]
        store = JobStore(jobs_root() / remote_id)
        store.write_spec(
            {"idempotency_key": request.idempotency_key, "model": request.model, "config": self._config(request)}
        )
        store.update(status="pending")
        self._spawn(store)
        return self.get_job(remote_id)

    def _spawn(self, store: JobStore) -> None:
        """The detached worker process for a job folder."""
        log = (store.folder / "worker.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "providers.local.worker", str(store.folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(Path(__file__).resolve().parents[2]),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        (store.folder / "worker.pid").write_text(str(process.pid))

    def find_job(self, request: JobRequest, since: float) -> JobState | None:
        for folder in jobs_root().glob("local-*"):
            try:
                if JobStore(folder).spec().get("idempotency_key") == request.idempotency_key:
                    return self.get_job(folder.name)
            except (OSError, ValueError):
                continue
        return None

    def _store(self, remote_id: str) -> JobStore:
        store = JobStore(jobs_root() / remote_id)
        if not (store.folder / "spec.json").is_file():
            raise ProviderError(f"no local job {remote_id}")
        return store

    def get_job(self, remote_id: str) -> JobState:
        store = self._store(remote_id)
        state = store.state()
        raw = state.get("status", "pending")
        if raw in ("pending", "running") and store.pid() is not None and not store.worker_alive():
            last = store.latest_checkpoint()
            raw = "failed"
            store.update(
                status="failed",
                error="worker died: the worker process exited unexpectedly"
                + (f"; last checkpoint kept: {last} (`adsft resume` continues from it)" if last else ""),
            )
            state = store.state()
        status = Status(raw) if raw in Status._value2member_map_ else Status.PENDING
        metrics = {k: v for k, v in (state.get("metrics") or {}).items() if isinstance(v, int | float)}
        return JobState(
            remote_id=remote_id,
            status=status,
            raw_status=raw,
            model=store.spec().get("model"),
            result_model=state.get("adapter"),
            progress=state.get("progress"),
            metrics=metrics,
            error=state.get("error"),
        )

    def list_events(self, remote_id: str) -> list[JobEvent]:
        return [
            JobEvent(
                e["id"],
                e["created_at"],
                e["level"],
                e["message"],
                {k: v for k, v in e.get("data", {}).items() if k != "traceback"},
            )
            for e in self._store(remote_id).events()
        ]

    def list_checkpoints(self, remote_id: str) -> list[Checkpoint]:
        store = self._store(remote_id)
        return [Checkpoint(p.name, int(p.name.split("-")[1]), str(p)) for p in store.checkpoints.glob("step-*")]

    def cancel(self, remote_id: str) -> JobState:
        store = self._store(remote_id)
        store.request_cancel()
        if not store.worker_alive() and store.state().get("status") in ("pending", "running"):
            store.update(status="cancelled")
        return self.get_job(remote_id)

    def pause(self, remote_id: str) -> JobState:
        raise ProviderError("local jobs cannot be paused", fix="cancel (a checkpoint is kept), then `adsft resume`")

    def resume(self, remote_id: str) -> JobState:
        """Start a new worker on a job that stopped (its worker died, or it was cancelled or failed): the
        trainer continues from the last good checkpoint (providers.local.train._resume)."""
        store = self._store(remote_id)
        state = self.get_job(remote_id)
        if store.worker_alive():
            return state
        if state.status == Status.SUCCEEDED:
            raise ProviderInputError(f"local job {remote_id} has already succeeded", fix="nothing to resume")
        store.update(status="pending", error=None)
        (store.folder / "cancel").unlink(missing_ok=True)
        store.event(
            "info", "resumed" + (f" from {store.latest_checkpoint().name}" if store.latest_checkpoint() else "")
        )
        self._spawn(store)
        return self.get_job(remote_id)

    def download(self, remote_id: str, dest: Path, merged: bool = False) -> Path:
        store = self._store(remote_id)
        if not store.adapter.is_dir():
            raise ProviderError(f"local job {remote_id} has no adapter yet")
        if dest.exists():
            shutil.rmtree(dest)
        if not merged:
            shutil.copytree(store.adapter, dest)
            return dest
        # merged export: the base model with the adapter fused into its weights, a plain HF model folder
        import torch
        from peft import PeftModel

        from providers.local.train import load_base

        tokenizer, base = load_base(store.spec()["config"]["base_model"], torch.device("cpu"), torch.float32)
        model = PeftModel.from_pretrained(base, str(store.adapter)).merge_and_unload()
        model.save_pretrained(str(dest))
        tokenizer.save_pretrained(str(dest))
        return dest

    def estimate_price(self, request: JobRequest) -> float | None:
        return None

    def complete(self, model: str, messages: list[dict], **params: Any) -> Completion:
        """`model` is a base model folder (or `tiny`), optionally `BASE+ADAPTER_FOLDER`."""
        from providers.local.generate import generator

        base, _, adapter = model.partition("+")
        result = generator(base, adapter or None).generate([messages], **params)[0]
        return Completion(result.text, result.tokens_in, result.tokens_out, result.latency_s, result.finish_reason)

    def complete_batch(self, model: str, chats: list[list[dict]], **params: Any) -> list[Completion]:
        """Many chats in one padded batch (left padding): what makes local scoring fast."""
        from providers.local.generate import generator

        base, _, adapter = model.partition("+")
        return [
            Completion(r.text, r.tokens_in, r.tokens_out, r.latency_s, r.finish_reason)
            for r in generator(base, adapter or None).generate(chats, **params)
        ]
