"""Scoring speed, two figures measured in one run.

1. Remote: 1,000 briefs, K=5, against the fake OpenAI-compatible server (its own process, 200 ms per
   answer), concurrency 64: wall time beside the ideal (requests x 0.2 s / 64); every request recorded.
   Beside it, what this machine allows: the same number of requests through the same SDK client at the
   same concurrency with nothing else done (no prompts built, no rules, no file), `floor_s`; the same
   requests on a bare aiohttp session, no SDK (`http_floor_s`: what the server and this machine allow);
   and the CPU seconds the scoring process, its rule-checking workers and the server spent.
2. Local: batched generation (length buckets, shared prompt prefixes run once, KV cache, finished rows
   dropped) vs one-by-one generation of the same prompts with the same model and code (the embedded tiny
   model on this CPU, or a GPU when present), as output tokens per second. Neither side keeps anything
   from an earlier call. Each prompt samples from its own seeded noise, so both sides write the same
   texts (`same_texts`); the sides run `--repeat` times alternating, the best run of each counts.

The fake server sends each response with TCP_NODELAY, as real servers do: with Nagle's algorithm on, the
body it writes after the headers waited for the client's delayed ACK, up to 40 ms a request, and the
bare-aiohttp floor was 1.25x the ideal instead of 1.04x.

    python bench/bench_score.py [--briefs 1000] [--k 5] [--concurrency 64] [--latency 0.2] [--local 64]
                                [--model tiny|FOLDER] [--max-new 64] [--remote 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
for line in sys.stdin:
    print(cloud.count("POST", "/chat/completions"), time.process_time(), flush=True)
"""

FLOOR = """
import asyncio, json, sys, time
sys.path.insert(0, {root!r})
from providers import get_provider
messages = [{{"role": "system", "content": "You write ads."}}, {{"role": "user", "content": "An ad, please."}}]


async def main():
    gate = asyncio.Semaphore({concurrency})
    async with get_provider("openai").async_completions({concurrency}) as complete:
        async def one():
            async with gate:
                await complete({model!r}, messages, temperature=0.8, max_tokens=120)
        await asyncio.gather(*(one() for _ in range({requests})))


start = time.perf_counter()
asyncio.run(main())
print(json.dumps({{"s": time.perf_counter() - start, "cpu_s": time.process_time()}}))
"""

HTTP_FLOOR = """
import asyncio, json, os, sys, time
import aiohttp
messages = [{{"role": "user", "content": "An ad, please."}}]
body = json.dumps({{"model": {model!r}, "messages": messages, "max_tokens": 120}})
headers = {{"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}}
url = os.environ["OPENAI_BASE_URL"] + "/chat/completions"


async def main():
    gate = asyncio.Semaphore({concurrency})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit={concurrency})) as session:
        async def one():
            async with gate, session.post(url, data=body, headers=headers) as reply:
                await reply.json()
        await asyncio.gather(*(one() for _ in range({requests})))


start = time.perf_counter()
asyncio.run(main())
print(json.dumps({{"s": time.perf_counter() - start, "cpu_s": time.process_time()}}))
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

    model = "gpt-4o-mini-2024-07-18"
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT), latency=args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def served() -> tuple[int, float]:
        server.stdin.write("\n")
        server.stdin.flush()
        count, cpu = server.stdout.readline().split()
        return int(count), float(cpu)

    port = int(server.stdout.readline())
    os.environ.update(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="sk-bench")
    run = folder / "run"
    before, cpu = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run_score(ScoreConfig("openai", model, run, eval_file(args.briefs, folder), k=args.k, concurrency=args.concurrency))
    wall = time.perf_counter() - start
    after, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    requests, server_cpu = served()
    recorded = sum(1 for _ in (run / "attempts.jsonl").open())
    floors = {}
    for name, code in (("sdk", FLOOR), ("http", HTTP_FLOOR)):
        script = code.format(root=str(ROOT), concurrency=args.concurrency, model=model, requests=requests)
        floors[name] = json.loads(subprocess.check_output([sys.executable, "-c", script], text=True))
    floor = floors["sdk"]
    total, server_cpu_end = served()
    server.stdin.close()
    server.wait()
    ideal = requests * args.latency / args.concurrency
    return {
        "bench": "score_remote",
        "briefs": args.briefs,
        "k": args.k,
        "concurrency": args.concurrency,
        "requests_served": requests,
        "attempts_recorded": recorded,
        "lost": requests - recorded,
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "ratio_to_ideal": round(wall / ideal, 3),
        "floor_s": round(floor["s"], 2),
        "floor_ratio_to_ideal": round(floor["s"] / ideal, 3),
        "ratio_to_floor": round(wall / floor["s"], 3),
        "http_floor_s": round(floors["http"]["s"], 2),
        "http_floor_ratio_to_ideal": round(floors["http"]["s"] / ideal, 3),
        "floor_requests": total - requests,
        "score_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
        "judges_cpu_s": round(workers.ru_utime + workers.ru_stime - cpu.ru_utime - cpu.ru_stime, 2),
        "server_cpu_s": round(server_cpu, 2),
        "floor_client_cpu_s": round(floor["cpu_s"], 2),
        "floor_server_cpu_s": round(server_cpu_end - server_cpu, 2),  # both floors
        "http_floor_client_cpu_s": round(floors["http"]["cpu_s"], 2),
    }


def local(n: int, model: str = "tiny", max_new: int = 64, repeat: int = 3) -> dict:
    from orchestrator.briefs import load_eval
    from orchestrator.paths import data_dir
    from orchestrator.prompting import build_prompt
    from providers.local.generate import Generator

    chats = [build_prompt(b) for b, _ in load_eval(data_dir() / "briefs" / "eval.jsonl")][:n]
    generator = Generator(model)
    generator.generate(chats[:2], max_new_tokens=8)  # warm up
    runs: dict[str, list[float]] = {"batched": [], "one_by_one": []}
    for _ in range(repeat):  # alternating, so that a busy spell of the machine hits both sides
        start = time.perf_counter()
        batched = generator.generate(chats, max_new_tokens=max_new, temperature=0.8, seed=1)
        runs["batched"].append(time.perf_counter() - start)
        start = time.perf_counter()
        single = [generator.generate([c], max_new_tokens=max_new, temperature=0.8, seed=1)[0] for c in chats]
        runs["one_by_one"].append(time.perf_counter() - start)
    batched_s, single_s = min(runs["batched"]), min(runs["one_by_one"])
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
        "runs_speedup": [round(s / b * batched_tokens / single_tokens, 1) for b, s in zip(*runs.values(), strict=True)],
        "tokens_out_batched": batched_tokens,
        "tokens_out_one_by_one": single_tokens,
        "same_texts": [r.text for r in batched] == [r.text for r in single],
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
    parser.add_argument("--repeat", type=int, default=3, help="alternating local runs of each side (best taken)")
    args = parser.parse_args()
    if args.remote:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(remote(args, Path(tmp))), flush=True)
    if args.local:
        print(json.dumps(local(args.local, args.model, args.max_new, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
