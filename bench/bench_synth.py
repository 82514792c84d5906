"""Synthetic data end to end on the bundled catalog: generate + check (language pack, grammar-sanity
pack, fact fidelity) + deduplicate + select 2,500 from ~64,000 candidates (200 drawn per brief; target: < 60 s
on 2 cores, selection < 30 s). Beside it, in the same run:
- diversity per language (distinct words, distinct-1/2, self-BLEU) of our selected set, of a random
  subset of the same candidates of the same size, and of the old fixed-frame generator's selected set;
- coverage (mean distance to the nearest pick, and radius) of our selection vs the random subset;
- near-duplicate search by exact all-pairs Jaccard on a sample (the naive method) vs our MinHash LSH.

    python bench/bench_synth.py [--variants 10] [--n 2500] [--workers N] [--pairs-sample 3000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.dedup import MinHasher, deduplicate  # noqa: E402
from orchestrator.synth import SynthConfig, SynthSummary, synthesize  # noqa: E402


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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: argparse.Namespace, generator: str) -> tuple[SynthSummary, float, list[str]]:
    """One synth run: its summary, wall-clock seconds, and the train texts. CPU seconds of this process and
    of its workers are put in the summary's `seconds` too (the wall clock on a shared machine counts
    others' work)."""
    with tempfile.TemporaryDirectory() as out:
        start, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
        config = SynthConfig(
            out=Path(out), n=args.n, variants=args.variants, seed=0, generator=generator, workers=args.workers
        )
        summary = synthesize(config)
        total = time.perf_counter() - start
        summary.seconds["cpu_total"] = round(time.process_time() - cpu, 2)
        summary.seconds["cpu_workers"] = round(_children_cpu() - children, 2)
        texts = [json.loads(x)["messages"][-1]["content"] for x in (Path(out) / "train.jsonl").open()]
    return summary, total, texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--workers", type=int, default=None, help="synth's processes (default: the cores)")
    parser.add_argument("--pairs-sample", type=int, default=3000)
    parser.add_argument("--no-baseline", action="store_true", help="skip the old fixed-frame generator")
    args = parser.parse_args()
    summary, total, texts = run(args, "plans")
    print(
        json.dumps(
            {
                "bench": "synth",
                "generator": "plans",
                "candidates": summary.candidates,
                "passed": summary.passed,
                "after_dedup": summary.after_dedup,
                "selected": summary.selected,
                "total_s": round(total, 2),
                "stages_s": summary.seconds,
                "coverage": summary.coverage,
                "rejected_by_sanity": summary.sanity_rejected,
                "rejected_by_fidelity": summary.fidelity_rejected,
                "audit_of_selected": summary.audit,
            },
            ensure_ascii=False,
        )
    )
    old = None if args.no_baseline else run(args, "frames")
    print_diversity(summary, old)
    print_dedup(texts, args.pairs_sample)


def print_diversity(summary: SynthSummary, old: tuple[SynthSummary, float, list[str]] | None) -> None:
    for lang, figures in summary.diversity_by_language.items():
        line = {
            "bench": "synth_diversity",
            "language": lang,
            "ours_selected": figures["after"],
            "ours_random_subset": figures["random"],
            "ours_before_selection": figures["before"],
        }
        if old is not None:
            line["old_generator_selected"] = old[0].diversity_by_language.get(lang, {}).get("after")
            line["old_generator_total_s"] = round(old[1], 2)
            line["old_generator_cpu_s"] = old[0].seconds.get("cpu_total")
        print(json.dumps(line))


def print_dedup(texts: list[str], pairs_sample: int) -> None:
    # dedup: ours vs exact all-pairs Jaccard on the same sample (the selected texts plus near-copies)
    sample = (texts + [t.replace(".", "!") for t in texts])[:pairs_sample]
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
