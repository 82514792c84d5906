"""Synthetic data end to end on the bundled catalog: generate + check + deduplicate + select 2,500 from
~100,000 candidates (target: < 60 s, selection < 30 s). Beside it, in the same run: near-duplicate
search by exact all-pairs Jaccard on a sample (the naive method) vs our MinHash LSH on the same sample,
and the coverage radius of k-center selection vs a random subset of the same size.

    python bench/bench_synth.py [--variants 10] [--n 2500] [--pairs-sample 3000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.dedup import MinHasher, deduplicate  # noqa: E402
from orchestrator.synth import SynthConfig, synthesize  # noqa: E402


def naive_near_duplicates(texts: list[str], threshold: float) -> int:
    hasher = MinHasher()
    shingles = [set(hasher.shingle_hashes(t).tolist()) for t in texts]
    kept: list[set] = []
    dropped = 0
    for s in shingles:
        if any(len(s & k) / len(s | k) >= threshold for k in kept):
            dropped += 1
        else:
            kept.append(s)
    return dropped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--pairs-sample", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        summary = synthesize(SynthConfig(out=Path(out), n=args.n, variants=args.variants, seed=0))
        total = time.perf_counter() - start
        texts = [json.loads(x)["messages"][-1]["content"] for x in (Path(out) / "train.jsonl").open()]
    print(
        json.dumps(
            {
                "bench": "synth",
                "candidates": summary.candidates,
                "passed": summary.passed,
                "after_dedup": summary.after_dedup,
                "selected": summary.selected,
                "total_s": round(total, 2),
                "stages_s": summary.seconds,
                "coverage": summary.coverage,
                "diversity": summary.diversity,
            }
        )
    )
    # dedup: ours vs exact all-pairs Jaccard on the same sample (the selected texts plus near-copies)
    sample = (texts + [t.replace(".", "!") for t in texts])[: args.pairs_sample]
    start = time.perf_counter()
    ours = deduplicate(sample, 0.8)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    naive = naive_near_duplicates(sample, 0.8)
    naive_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "bench": "dedup",
                "texts": len(sample),
                "ours_s": round(ours_s, 3),
                "naive_all_pairs_s": round(naive_s, 3),
                "speedup": round(naive_s / ours_s, 1),
                "ours_dropped": ours.near + ours.exact,
                "naive_dropped": naive,
            }
        )
    )


if __name__ == "__main__":
    main()
