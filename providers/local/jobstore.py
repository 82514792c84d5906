"""A local job's folder: what the worker process and the CLI share, like a remote service's API.

spec.json       the job request (written once by the provider)
state.json      status, progress, metrics, result (rewritten atomically by the worker)
events.jsonl    one event per line (appended by the worker)
cancel          present when a cancel was requested
worker.pid      the worker's process id
checkpoints/    step-N folders (adapter, optimizer, scheduler, data position, RNG)
adapter/        the final PEFT adapter
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


class JobStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.checkpoints = folder / "checkpoints"
        self.adapter = folder / "adapter"

    def spec(self) -> dict:
        return json.loads((self.folder / "spec.json").read_text(encoding="utf-8"))

    def write_spec(self, spec: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "spec.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")

    def state(self) -> dict[str, Any]:
        path = self.folder / "state.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"status": "pending"}

    def update(self, **fields: Any) -> None:
        state = {**self.state(), **fields, "updated_at": time.time()}
        tmp = self.folder / ".state.json.tmp"
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.folder / "state.json")

    def event(self, level: str, message: str, **data: Any) -> None:
        line = json.dumps(
            {
                "id": f"{time.time():.6f}-{os.getpid()}",
                "created_at": time.time(),
                "level": level,
                "message": message,
                "data": data,
            }
        )
        with (self.folder / "events.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def succeeded(self, result: dict[str, Any], base_model: str, loss: float) -> None:
        """Mark the job done: its result, the adapter's folder, and the validation figures among its metrics."""
        validation = {k: v for k, v in result.items() if k.startswith("val_")}
        self.update(
            status="succeeded",
            progress=1.0,
            result=result,
            adapter=str(self.adapter),
            base_model=base_model,
            metrics={**self.state().get("metrics", {}), **validation},
        )
        self.event("info", f"finished: loss {loss:.4f}, adapter in {self.adapter}")

    def events(self) -> list[dict]:
        path = self.folder / "events.jsonl"
        if not path.is_file():
            return []
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]

    def request_cancel(self) -> None:
        (self.folder / "cancel").touch()

    def cancel_requested(self) -> bool:
        return (self.folder / "cancel").exists()

    def pid(self) -> int | None:
        path = self.folder / "worker.pid"
        return int(path.read_text()) if path.is_file() else None

    def worker_alive(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # a zombie (exited, not yet reaped) is not alive
        stat = Path(f"/proc/{pid}/stat")
        return not (stat.is_file() and stat.read_text().split(")")[-1].split()[0] == "Z")

    def latest_checkpoint(self) -> Path | None:
        found = sorted(self.checkpoints.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
        return found[-1] if found else None
