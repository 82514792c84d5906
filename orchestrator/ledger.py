"""The ledger: one SQLite file (WAL) holding uploaded files, jobs, their events and checkpoints.

Every remote call is bracketed: the intent is written first, the outcome after, so a crash between an
upload and a job's creation is recovered by running the same command again. Migrations are small
named functions applied in order, tracked by `PRAGMA user_version`.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import AdsftError
from orchestrator.paths import home


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Statements one by one (executescript would commit the migration's transaction early)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE files (
            id INTEGER PRIMARY KEY, provider TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
            path TEXT NOT NULL, remote_id TEXT, created_at REAL NOT NULL, UNIQUE (provider, sha256));
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY, provider TEXT NOT NULL, remote_id TEXT, model TEXT NOT NULL,
            spec TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE, phase TEXT NOT NULL,
            status TEXT NOT NULL, raw_status TEXT, training_file TEXT, validation_file TEXT,
            result_model TEXT, artifact_path TEXT, progress REAL, metrics TEXT, estimate_usd REAL,
            billed_usd REAL, trained_tokens INTEGER, error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE INDEX jobs_status ON jobs (status);
        CREATE INDEX jobs_provider ON jobs (provider);
        CREATE TABLE events (
            job_id TEXT NOT NULL REFERENCES jobs(id), remote_id TEXT NOT NULL, created_at REAL NOT NULL,
            level TEXT NOT NULL, message TEXT NOT NULL, data TEXT, UNIQUE (job_id, remote_id));
        CREATE TABLE checkpoints (
            job_id TEXT NOT NULL REFERENCES jobs(id), remote_id TEXT NOT NULL, step INTEGER, model TEXT,
            metrics TEXT, UNIQUE (job_id, remote_id));
        """,
    )


def _v2_worker(db: sqlite3.Connection) -> None:
    """Local jobs: the worker's pid and a cancel request the worker polls."""
    _script(
        db,
        "ALTER TABLE jobs ADD COLUMN worker_pid INTEGER; "
        "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER DEFAULT 0",
    )


def _v3_leases(db: sqlite3.Connection) -> None:
    """Submit leases: who is submitting a key (or uploading a file) now, kept alive by a heartbeat."""
    _script(
        db,
        "CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL,"
        " host TEXT NOT NULL, heartbeat REAL NOT NULL, note TEXT)",
    )


def _v4_steps(db: sqlite3.Connection) -> None:
    """Steps of multi-step commands (`adsft improve`): what each finished with, so a rerun continues."""
    _script(
        db,
        "CREATE TABLE steps (pipeline TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, result TEXT,"
        " started_at REAL NOT NULL, finished_at REAL, PRIMARY KEY (pipeline, name))",
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("initial", _v1),
    ("local worker", _v2_worker),
    ("submit leases", _v3_leases),
    ("pipeline steps", _v4_steps),
]
LEASE_STALE_S = 30.0  # a lease whose heartbeat is older than this (or whose process died) may be taken over


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LeaseBusy(AdsftError):
    """Another process holds the lease and did not let go in time."""


JOB_FIELDS = (
    "id",
    "provider",
    "remote_id",
    "model",
    "spec",
    "idempotency_key",
    "phase",
    "status",
    "raw_status",
    "training_file",
    "validation_file",
    "result_model",
    "artifact_path",
    "progress",
    "metrics",
    "estimate_usd",
    "billed_usd",
    "trained_tokens",
    "error",
    "created_at",
    "updated_at",
    "worker_pid",
    "cancel_requested",
)


@dataclass
class JobRow:
    id: str
    provider: str
    remote_id: str | None
    model: str
    spec: str
    idempotency_key: str
    phase: str  # intent | created | refused
    status: str
    raw_status: str | None
    training_file: str | None
    validation_file: str | None
    result_model: str | None
    artifact_path: str | None
    progress: float | None
    metrics: str | None
    estimate_usd: float | None
    billed_usd: float | None
    trained_tokens: int | None
    error: str | None
    created_at: float
    updated_at: float
    worker_pid: int | None = None
    cancel_requested: int | None = 0

    def public(self) -> dict[str, Any]:
        """The stable --json shape."""
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else None  # noqa: E731
        return {
            "id": self.id,
            "provider": self.provider,
            "remote_id": self.remote_id,
            "status": self.status,
            "raw_status": self.raw_status,
            "model": self.model,
            "result_model": self.result_model,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "estimate_usd": self.estimate_usd,
            "billed_usd": self.billed_usd,
            "progress": self.progress,
            "metrics": json.loads(self.metrics) if self.metrics else {},
            "error": self.error,
            "artifact_path": self.artifact_path,
            "trained_tokens": self.trained_tokens,
        }


class Ledger:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or home() / "ledger.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one connection shared by threads (sync polls concurrently): every use goes through the lock
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._open()

    def _open(self, within: float = 30.0) -> None:
        """Switch a new ledger to WAL and migrate it. Processes opening a new ledger at once can deadlock
        on the switch (each holds a read lock and wants the write lock), and SQLite then answers "database
        is locked" at once, without waiting: the loser rolls back and tries again."""
        deadline = time.monotonic() + within
        while True:
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.02, 0.1))  # apart, not in step

    def _migrate(self) -> None:
        """Apply the missing migrations in one write transaction (processes opening a new ledger at once
        take turns: the second finds the version already raised)."""
        if self.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
            return
        with self.tx():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, (_name, apply) in enumerate(MIGRATIONS[version:], version + 1):
                apply(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self.db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self.db.execute(sql, args))

    def _write(self, sql: str, args: tuple = ()) -> None:
        with self._lock:
            self.db.execute(sql, args)

    # files ------------------------------------------------------------------------------------------
    def file(self, provider: str, sha256: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM files WHERE provider=? AND sha256=?", (provider, sha256))

    def file_intent(self, provider: str, sha256: str, size: int, path: str) -> None:
        self._write(
            "INSERT OR IGNORE INTO files (provider, sha256, bytes, path, created_at) VALUES (?,?,?,?,?)",
            (provider, sha256, size, path, time.time()),
        )

    def file_uploaded(self, provider: str, sha256: str, remote_id: str) -> None:
        self._write("UPDATE files SET remote_id=? WHERE provider=? AND sha256=?", (remote_id, provider, sha256))

    # jobs -------------------------------------------------------------------------------------------
    def job_by_key(self, key: str) -> JobRow | None:
        row = self._one("SELECT * FROM jobs WHERE idempotency_key=?", (key,))
        return JobRow(**dict(row)) if row else None

    def base_model_of(self, provider: str, result_model: str) -> str | None:
        """The base model of the job that produced `result_model` (a fine-tuned model's id), if one did."""
        row = self._one(
            "SELECT model FROM jobs WHERE provider=? AND result_model=? ORDER BY created_at DESC LIMIT 1",
            (provider, result_model),
        )
        return row["model"] if row else None

    def job(self, job_id: str) -> JobRow | None:
        row = self._one("SELECT * FROM jobs WHERE id=? OR remote_id=?", (job_id, job_id))
        return JobRow(**dict(row)) if row else None

    def job_intent(
        self,
        provider: str,
        model: str,
        spec: dict,
        key: str,
        estimate_usd: float | None,
        training_file: str | None,
        validation_file: str | None,
    ) -> JobRow:
        now = time.time()
        job_id = "job_" + uuid.uuid4().hex[:12]
        with self.tx():
            self.db.execute("DELETE FROM jobs WHERE idempotency_key=? AND phase='refused'", (key,))
            self.db.execute(
                "INSERT INTO jobs (id, provider, model, spec, idempotency_key, phase, status, training_file,"
                " validation_file, estimate_usd, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    provider,
                    model,
                    json.dumps(spec, sort_keys=True),
                    key,
                    "intent",
                    "pending",
                    training_file,
                    validation_file,
                    estimate_usd,
                    now,
                    now,
                ),
            )
        job = self.job(job_id)
        assert job is not None
        return job

    def update_job(self, job_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(JOB_FIELDS)
        if unknown:
            raise ValueError(f"unknown job fields {unknown}")
        if "metrics" in fields and isinstance(fields["metrics"], dict):
            fields["metrics"] = json.dumps(fields["metrics"])
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k}=?" for k in fields)
        self._write(f"UPDATE jobs SET {sets} WHERE id=?", (*fields.values(), job_id))

    def forget_key(self, key: str) -> None:
        """--force: the old job keeps its row but gives up its idempotency key."""
        self._write("UPDATE jobs SET idempotency_key = idempotency_key || ':' || id WHERE idempotency_key=?", (key,))

    def jobs(
        self,
        provider: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        non_terminal: bool = False,
    ) -> list[JobRow]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if provider:
            sql += " AND provider=?"
            args.append(provider)
        if status:
            sql += " AND status=?"
            args.append(status)
        if non_terminal:
            sql += " AND status NOT IN ('succeeded','failed','cancelled') AND phase='created'"
        sql += " ORDER BY created_at DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [JobRow(**dict(r)) for r in self._all(sql, args)]

    # events and checkpoints -------------------------------------------------------------------------
    def add_events(self, job_id: str, events: list[tuple[str, float, str, str, dict]]) -> int:
        with self.tx():
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO events (job_id, remote_id, created_at, level, message, data)"
                " VALUES (?,?,?,?,?,?)",
                [(job_id, rid, at, level, msg, json.dumps(data)) for rid, at, level, msg, data in events],
            )
            return self.db.total_changes - before

    def events(self, job_id: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM events WHERE job_id=? ORDER BY created_at, rowid", (job_id,))

    def add_checkpoints(self, job_id: str, rows: list[tuple[str, int | None, str | None, dict]]) -> None:
        with self.tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO checkpoints (job_id, remote_id, step, model, metrics) VALUES (?,?,?,?,?)",
                [(job_id, rid, step, model, json.dumps(m)) for rid, step, model, m in rows],
            )

    def checkpoints(self, job_id: str) -> list[sqlite3.Row]:
        return self._all("SELECT * FROM checkpoints WHERE job_id=? ORDER BY step", (job_id,))

    # leases -----------------------------------------------------------------------------------------
    # steps of multi-step commands ------------------------------------------------------------------
    def step(self, pipeline: str, name: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM steps WHERE pipeline = ? AND name = ?", (pipeline, name))
        if row is None:
            return None
        return {**dict(row), "result": json.loads(row["result"]) if row["result"] else None}

    def steps(self, pipeline: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM steps WHERE pipeline = ? ORDER BY started_at", (pipeline,))
        return [{**dict(r), "result": json.loads(r["result"]) if r["result"] else None} for r in rows]

    def step_started(self, pipeline: str, name: str) -> None:
        self._write(
            "INSERT INTO steps (pipeline, name, status, started_at) VALUES (?, ?, 'running', ?) "
            "ON CONFLICT (pipeline, name) DO UPDATE SET status = 'running', started_at = excluded.started_at",
            (pipeline, name, time.time()),
        )

    def step_finished(self, pipeline: str, name: str, status: str, result: dict[str, Any]) -> None:
        self._write(
            "UPDATE steps SET status = ?, result = ?, finished_at = ? WHERE pipeline = ? AND name = ?",
            (status, json.dumps(result, ensure_ascii=False), time.time(), pipeline, name),
        )

    def try_lease(
        self, name: str, owner: str, note: str = "", stale_after: float = LEASE_STALE_S
    ) -> sqlite3.Row | None:
        """Take the lease `name` for `owner` unless a live holder has it; returns that holder, or None
        when taken (a holder whose process died on this host, or whose heartbeat stopped, is replaced)."""
        now, host = time.time(), socket.gethostname()
        with self.tx():
            row = self.db.execute("SELECT * FROM leases WHERE name=?", (name,)).fetchone()
            if row is not None and row["owner"] != owner:
                dead = row["host"] == host and not _alive(row["pid"])
                if not dead and row["heartbeat"] > now - stale_after:
                    return row
            self.db.execute(
                "INSERT OR REPLACE INTO leases (name, owner, pid, host, heartbeat, note) VALUES (?,?,?,?,?,?)",
                (name, owner, os.getpid(), host, now, note),
            )
        return None

    def renew_lease(self, name: str, owner: str) -> None:
        self._write("UPDATE leases SET heartbeat=? WHERE name=? AND owner=?", (time.time(), name, owner))

    def release_lease(self, name: str, owner: str) -> None:
        self._write("DELETE FROM leases WHERE name=? AND owner=?", (name, owner))

    @contextmanager
    def lease(
        self,
        name: str,
        note: str = "",
        wait: float = 900.0,
        on_wait: Callable[[sqlite3.Row], None] | None = None,
        stale_after: float = LEASE_STALE_S,
    ) -> Iterator[None]:
        """Hold the lease `name` for the block: wait while another live process holds it (telling
        `on_wait` once), keep it alive with a heartbeat, let it go at the end."""
        owner = uuid.uuid4().hex
        deadline, told = time.monotonic() + wait, False
        while (holder := self.try_lease(name, owner, note, stale_after)) is not None:
            if time.monotonic() > deadline:
                raise LeaseBusy(
                    f"process {holder['pid']} on {holder['host']} is still busy with this ({holder['note']})",
                    fix="wait for it to finish, then run the same command again",
                )
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            time.sleep(0.1)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(name, owner, stop, stale_after / 4), daemon=True)
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()
            self.release_lease(name, owner)

    def _heartbeat(self, name: str, owner: str, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            try:
                self.renew_lease(name, owner)
            except sqlite3.Error:  # a busy database: the next beat tries again
                continue
