"""Scoring speed, two figures measured in one run.

1. Remote: 1,000 briefs, K=5, against the fake OpenAI-compatible server (its own process, 200 ms per
   answer), concurrency 64: wall time beside the ideal (requests x 0.2 s / 64); every request recorded.
2. Local: batched generation (length buckets, KV cache, finished rows dropped) vs one-by-one generation
   of the same prompts with the same model and code (the embedded tiny model on this CPU, or a GPU when
   present), as output tokens per second.

    python bench/bench_score.py [--briefs 1000] [--k 5] [--concurrency 64] [--latency 0.2] [--local 64]
                                [--model tiny|FOLDER] [--max-new 64] [--remote 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.fakecloud import FakeCloud
cloud = FakeCloud("openai", latency={latency}).start()
cloud.completion_text = "The BEST deal ever!!! Don't miss out."
print(cloud.port, flush=True)
sys.stdin.read()
print(cloud.count("POST", "/chat/completions"), flush=True)
"""


def eval_file(n: int, folder: Path) -> Path:
    from orchestrator.briefs import load_briefs
    from orchestrator.paths import data_dir

    briefs = list(load_briefs(data_dir() / "briefs" / "catalog.jsonl").values())
    path = folder / "eval.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            brief = briefs[i % len(briefs)].model_dump()
            brief["id"] = f"{brief['id']}-{i}"
            handle.write(json.dumps({"brief": brief, "references": ["-"]}, ensure_ascii=False) + "\n")
    return path


def remote(args: argparse.Namespace, folder: Path) -> dict:
    from orchestrator.score import ScoreConfig, run_score

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT), latency=args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(server.stdout.readline())
    os.environ.update(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="sk-bench")
    run = folder / "run"
    start = time.perf_counter()
    run_score(
        ScoreConfig(
            "openai",
            "gpt-4o-mini-2024-07-18",
            run,
            eval_file(args.briefs, folder),
            k=args.k,
            concurrency=args.concurrency,
        )
    )
    wall = time.perf_counter() - start
    server.stdin.close()
    served = int(server.stdout.readline())
    server.wait()
    recorded = sum(1 for _ in (run / "attempts.jsonl").open())
    ideal = served * args.latency / args.concurrency
    return {
        "bench": "score_remote",
        "briefs": args.briefs,
        "k": args.k,
        "concurrency": args.concurrency,
        "requests_served": served,
        "attempts_recorded": recorded,
        "lost": served - recorded,
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "ratio_to_ideal": round(wall / ideal, 3),
    }


def local(n: int, model: str = "tiny", max_new: int = 64) -> dict:
    from orchestrator.briefs import load_eval
    from orchestrator.paths import data_dir
    from orchestrator.prompting import build_prompt
    from providers.local.generate import Generator

    chats = [build_prompt(b) for b, _ in load_eval(data_dir() / "briefs" / "eval.jsonl")][:n]
    generator = Generator(model)
    generator.generate(chats[:2], max_new_tokens=8)  # warm up
    start = time.perf_counter()
    batched = generator.generate(chats, max_new_tokens=max_new, temperature=0.8, seed=1)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    single = [generator.generate([c], max_new_tokens=max_new, temperature=0.8, seed=1)[0] for c in chats]
    single_s = time.perf_counter() - start
    batched_tokens = sum(r.tokens_out for r in batched)
    single_tokens = sum(r.tokens_out for r in single)
    return {
        "bench": "generate_local",
        "model": model,
        "device": str(generator.device),
        "prompts": len(chats),
        "max_new_tokens": max_new,
        "batched_s": round(batched_s, 2),
        "one_by_one_s": round(single_s, 2),
        "batched_tok_s": round(batched_tokens / batched_s, 1),
        "one_by_one_tok_s": round(single_tokens / single_s, 1),
        "speedup": round((batched_tokens / batched_s) / (single_tokens / single_s), 1),
        "tokens_out_batched": batched_tokens,
        "tokens_out_one_by_one": single_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--briefs", type=int, default=1000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--local", type=int, default=64, help="prompts for the local generation figure (0: skip)")
    parser.add_argument("--model", default="tiny", help="the local model folder to generate with (default: tiny)")
    parser.add_argument("--max-new", type=int, default=64, help="tokens generated per prompt at most")
    parser.add_argument("--remote", type=int, default=1, help="1: measure remote scoring; 0: skip it")
    args = parser.parse_args()
    if args.remote:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(remote(args, Path(tmp))), flush=True)
    if args.local:
        print(json.dumps(local(args.local, args.model, args.max_new)), flush=True)


if __name__ == "__main__":
    main()
