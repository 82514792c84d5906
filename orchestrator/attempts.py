"""A scoring run's attempts.jsonl: one append-only file, opened once per run.

Each attempt is written and flushed to the operating system as it is judged (a killed process loses
nothing it had recorded); the file is fsynced once per batch (every `batch` attempts, at the end of a
round and on close), not once per line, so that a thousand requests in flight do not wait on the disk.
A run reads its file back and continues where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_attempts(path: Path) -> Iterator[dict[str, Any]]:
    """The recorded attempts in order, one dict per line (a torn last line from a crash is skipped)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            if not line.endswith("\n"):  # the process died mid-write: that attempt was not recorded
                return
            yield json.loads(line)


class AttemptLog:
    def __init__(self, path: Path, batch: int = 64) -> None:
        self.path = path
        self.batch = batch
        self.unsynced = 0
        self._trim_torn_tail()
        self.handle = path.open("a", encoding="utf-8")

    def _trim_torn_tail(self) -> None:
        """Cut a last line without its newline (a write cut short), so that the next line starts clean."""
        if not self.path.is_file() or not self.path.stat().st_size:
            return
        with self.path.open("rb+") as handle:
            data = handle.read()
            if not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def write(self, record: dict[str, Any]) -> bool:
        """Append one attempt; True when a batch is complete and due to be synced (the caller syncs it,
        in a worker thread where an event loop must not wait on the disk)."""
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        self.unsynced += 1
        return self.unsynced >= self.batch

    def sync(self) -> None:
        self.unsynced = 0
        if not self.handle.closed:
            os.fsync(self.handle.fileno())

    def close(self) -> None:
        if not self.handle.closed:
            self.sync()
            self.handle.close()

    def __enter__(self) -> AttemptLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
