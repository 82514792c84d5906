"""The local job's worker process: `python -m providers.local.worker JOB_FOLDER`.

Started detached by the local provider, it outlives the CLI; everything it reports goes to the job
folder (state, events, checkpoints, adapter), which `adsft status/watch/sync` read like a remote API.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from pathlib import Path

from providers.local.jobstore import JobStore


def main(folder: str) -> int:
    warnings.filterwarnings("ignore", category=FutureWarning)
    store = JobStore(Path(folder))
    spec = store.spec()
    try:
        if spec["config"].get("method") == "dpo":
            from providers.local.dpo import DPOConfig, train_dpo

            result = train_dpo(DPOConfig.of(spec["config"]), store)
        else:
            from providers.local.train import TrainConfig, train

            result = train(TrainConfig(**spec["config"]), store)
        return 0 if result["status"] in ("succeeded", "cancelled") else 1
    except Exception as exc:
        message = _explain(exc)
        store.event("error", message, traceback=traceback.format_exc()[-4000:])
        last = store.latest_checkpoint()
        store.update(status="failed", error=message + (f" (last checkpoint kept: {last})" if last else ""))
        return 1


def _explain(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "out of memory" in text.lower():
        return (
            f"out of memory: {text[:200]}. Fix: a smaller rows_per_batch or tokens_per_row, "
            "gradient_checkpointing: true, or method qlora"
        )
    fix = getattr(exc, "fix", None)
    return f"{text} (fix: {fix})" if fix else text


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
