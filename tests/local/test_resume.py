"""A killed local worker: `status` says it died, `resume` continues from the last good checkpoint (a
corrupted one is skipped with a warning)."""

from __future__ import annotations

import time

from providers.base import Status
from providers.local import LocalProvider, jobs_root
from providers.local.jobstore import JobStore


def _config(micro_model, train_file) -> dict:
    return {
        "base_model": str(micro_model),
        "training_file": str(train_file),
        "epochs": 3,
        "learning_rate": 1e-2,
        "r": 4,
        "alpha": 8,
        "tokens_per_row": 256,
        "rows_per_batch": 2,
        "checkpoint_every": 3,
        "log_every": 1,
    }


def _wait(predicate, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while not predicate() and time.time() < deadline:
        time.sleep(0.1)


def test_killed_worker_is_reported_and_resumed_past_a_corrupted_checkpoint(micro_model, train_file):
    provider = LocalProvider()
    store = JobStore(jobs_root() / "local-resume0001")
    store.write_spec({"idempotency_key": "k", "model": "micro", "config": _config(micro_model, train_file)})
    store.update(status="pending")
    provider._spawn(store)
    _wait(lambda: len(list(store.checkpoints.glob("step-*"))) >= 2)
    import os
    import signal

    os.kill(store.pid(), signal.SIGKILL)
    _wait(lambda: not store.worker_alive(), 10)
    state = provider.get_job("local-resume0001")
    assert state.status == Status.FAILED and "worker died" in (state.error or "")
    newest = store.latest_checkpoint()
    (newest / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    provider.resume("local-resume0001")
    _wait(lambda: provider.get_job("local-resume0001").terminal)
    final = provider.get_job("local-resume0001")
    assert final.status == Status.SUCCEEDED, final.error
    messages = [e["message"] for e in store.events()]
    assert any("unreadable" in m for m in messages) and any(m.startswith("resumed") for m in messages)
