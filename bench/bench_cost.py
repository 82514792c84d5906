"""Cost estimate of a 100,000-example file end to end (parse + validate + exact count + price) vs the
raw tokenizer's batch encode of the same texts (already extracted, so it does no parsing), in one run.
Target: ours >= 0.7x the raw tokenizer's throughput, memory bounded (streamed).

Each side runs `--repeat` times, alternating, each time in a fresh process (so every run of ours builds
its tokenizer, as `adsft estimate` does; imports and the price catalog are loaded before the clock
starts, on both sides). The headline figures are the best run of each side (the one the shared machine
disturbed least); every run is listed. `raw_load_s` is what building the raw tokenizer took: ours pays
it inside its time, the raw figure does not (`ours_vs_raw_with_load` counts it on both sides). CPU
seconds (all threads) are beside the wall times: ours counts in a second thread while it parses, and
counts a system message that repeats on every line once.

    python bench/bench_cost.py [--examples 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bigfile import ROOT, make_file  # noqa: E402

MODEL = "gpt-4o-mini-2024-07-18"

OURS = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from orchestrator.estimate import estimate
from orchestrator.pricing import load_catalog
catalog = load_catalog()
wall, cpu = time.perf_counter(), time.process_time()
(row,) = estimate({path!r}, None, ["openai"], [{model!r}], catalog, epochs=3)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({{"s": wall, "cpu_s": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "examples": row.examples, "billed_tokens": row.billed_tokens, "cost_usd": row.cost_usd}}))
"""

RAW = """
import json, time, quicktok
texts = [m["content"] for line in open({path!r}, encoding="utf-8") for m in json.loads(line)["messages"]]
load = time.perf_counter()
enc = quicktok.Tokenizer("o200k_base", "")
load = time.perf_counter() - load
wall, cpu = time.perf_counter(), time.process_time()
counts = quicktok.count_batch(enc, texts, threads=1)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({{"s": wall, "cpu_s": cpu, "load_s": load, "tokens": int(counts.sum())}}))
"""


def run(code: str) -> dict:
    out = subprocess.check_output([sys.executable, "-c", code], text=True)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = make_file(Path(tempfile.gettempdir()) / f"adsft-bench-{args.examples}.jsonl", args.examples)
    ours_runs, raw_runs = [], []
    for _ in range(args.repeat):
        ours_runs.append(run(OURS.format(root=str(ROOT), path=str(path), model=MODEL)))
        raw_runs.append(run(RAW.format(path=str(path))))
    ours = min(ours_runs, key=lambda r: r["s"])
    raw = min(raw_runs, key=lambda r: r["s"])
    load = min(r["load_s"] for r in raw_runs)
    mb = path.stat().st_size / 1e6
    print(
        json.dumps(
            {
                "bench": "cost",
                "examples": ours["examples"],
                "file_mb": round(mb, 1),
                "ours_s": round(ours["s"], 2),
                "ours_mb_per_s": round(mb / ours["s"], 1),
                "raw_batch_encode_s": round(raw["s"], 2),
                "raw_mb_per_s": round(mb / raw["s"], 1),
                "ours_vs_raw": round(raw["s"] / ours["s"], 2),
                "raw_load_s": round(load, 2),
                "ours_vs_raw_with_load": round((raw["s"] + load) / ours["s"], 2),
                "ours_cpu_s": round(ours["cpu_s"], 2),
                "raw_cpu_s": round(raw["cpu_s"], 2),
                "runs_ours_s": [round(r["s"], 2) for r in ours_runs],
                "runs_raw_s": [round(r["s"], 2) for r in raw_runs],
                "runs_ours_vs_raw": [round(r["s"] / o["s"], 2) for o, r in zip(ours_runs, raw_runs, strict=True)],
                "peak_rss_mb": round(max(r["rss_mb"] for r in ours_runs)),
                "content_tokens": raw["tokens"],
                "billed_tokens": ours["billed_tokens"],
                "cost_usd": ours["cost_usd"],
            }
        )
    )


if __name__ == "__main__":
    main()
