"""Ledger and job-tracking speed: `list` and `status` over a ledger of 10,000 jobs, and `sync` of 100
running jobs against the fake cloud on 127.0.0.1 (50 ms per request) with concurrent polling vs
sequential polling, in the same run.

    python bench/bench_ledger.py [--jobs 10000] [--running 100] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--running", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    home = tempfile.mkdtemp()
    from tests.fakecloud import FakeCloud

    cloud = FakeCloud("openai", latency=args.latency).start()
    os.environ.update(ADSFT_HOME=home, OPENAI_BASE_URL=cloud.base_url, OPENAI_API_KEY="sk-bench")
    from orchestrator import jobs
    from orchestrator.ledger import Ledger
    from providers import get_provider
    from providers.base import JobRequest

    ledger = Ledger()
    start = time.perf_counter()
    for i in range(args.jobs):
        job = ledger.job_intent("openai", "gpt-4o-mini-2024-07-18", {"i": i}, f"key-{i}", 1.0, "file-x", None)
        ledger.update_job(job.id, phase="created", remote_id=f"done-{i}", status="succeeded")
    fill = time.perf_counter() - start
    start = time.perf_counter()
    everything = ledger.jobs()
    list_all_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = ledger.jobs(limit=50)
    list_s = time.perf_counter() - start
    start = time.perf_counter()
    for r in rows:
        ledger.job(r.id)
    status_s = (time.perf_counter() - start) / len(rows)
    print(
        json.dumps(
            {
                "bench": "ledger",
                "jobs": args.jobs,
                "fill_s": round(fill, 2),
                "list_all_ms": round(list_all_s * 1e3, 1),
                "listed": len(everything),
                "list_50_ms": round(list_s * 1e3, 2),
                "status_lookup_ms": round(status_s * 1e3, 3),
            }
        )
    )

    provider = get_provider("openai")
    cloud.files["file-x"] = {"bytes": 1}
    for i in range(args.running):
        state = provider.create_job(JobRequest("gpt-4o-mini-2024-07-18", "file-x", None, f"run-{i}", {}))
        job = ledger.job_intent("openai", "gpt-4o-mini-2024-07-18", {"r": i}, f"run-{i}", 1.0, "file-x", None)
        ledger.update_job(job.id, phase="created", remote_id=state.remote_id, status="queued")
    timings = {}
    for label, concurrency in (("sequential", 1), ("concurrent", 16)):
        for j in cloud.jobs.values():
            j.step = 0
        ledger.db.execute("UPDATE jobs SET status='queued' WHERE remote_id NOT LIKE 'done-%'")
        start = time.perf_counter()
        results = jobs.sync(ledger, concurrency)
        timings[label] = time.perf_counter() - start
        assert len(results) == args.running and not any(isinstance(r, Exception) for r in results)
    print(
        json.dumps(
            {
                "bench": "sync",
                "running_jobs": args.running,
                "request_latency_s": args.latency,
                "sequential_s": round(timings["sequential"], 2),
                "concurrent_16_s": round(timings["concurrent"], 2),
                "speedup": round(timings["sequential"] / timings["concurrent"], 1),
            }
        )
    )
    cloud.stop()


if __name__ == "__main__":
    main()
