"""Cost estimate of a 100,000-example file end to end (parse + validate + exact count + price) vs the raw
tokenizer's batch encode of the same texts (already extracted, so it does no parsing), in one run.
Target: ours >= 0.7x the raw tokenizer's throughput, memory bounded (streamed).

    python bench/bench_cost.py [--examples 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _bigfile import ROOT, make_file  # noqa: E402

sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    args = parser.parse_args()
    path = make_file(Path(tempfile.gettempdir()) / f"adsft-bench-{args.examples}.jsonl", args.examples)
    import quicktok

    from orchestrator.estimate import estimate
    from orchestrator.pricing import load_catalog

    catalog = load_catalog()
    model = "gpt-4o-mini-2024-07-18"
    start = time.perf_counter()
    (row,) = estimate(path, None, ["openai"], [model], catalog, epochs=3)
    ours = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    texts = [m["content"] for line in path.open(encoding="utf-8") for m in json.loads(line)["messages"]]
    enc = quicktok.get_encoding("o200k_base")
    start = time.perf_counter()
    counts = quicktok.count_batch(enc, texts, threads=1)
    raw = time.perf_counter() - start
    mb = path.stat().st_size / 1e6
    print(
        json.dumps(
            {
                "bench": "cost",
                "examples": row.examples,
                "file_mb": round(mb, 1),
                "ours_s": round(ours, 2),
                "ours_mb_per_s": round(mb / ours, 1),
                "raw_batch_encode_s": round(raw, 2),
                "raw_mb_per_s": round(mb / raw, 1),
                "ours_vs_raw": round(raw / ours, 2),
                "peak_rss_mb": round(rss),
                "content_tokens": int(counts.sum()),
                "billed_tokens": row.billed_tokens,
                "cost_usd": row.cost_usd,
            }
        )
    )


if __name__ == "__main__":
    main()
