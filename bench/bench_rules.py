"""Rule engine speed, ours beside baselines measured in the same run. Prints one JSON object per line.

- ``throughput``: messages per CPU second (one core) for the ru and en packs, with the messages' briefs
  (the facts rules run) and without, beside (a) the naive loop — one precompiled ``re.search`` per
  lexicon entry over the same inflected forms, lexicon rules only — (b) where ours runs compiled
  (``setup.py`` builds it with mypyc), the same engine run as plain Python (``ADSFT_PURE_PYTHON=1``,
  ``ratio_to_python``), and (c) where ``--old`` names a
  checkout of an earlier engine (``git worktree add /tmp/oldeng 29e4580``), that engine on the same
  messages; (d) where ``--before`` names a checkout of this project before a change (``git archive main |
  tar -x -C /tmp/before``), that engine too. Every engine runs in its own process, repeated alternately;
  the best run of each counts, and beside ``ratio_to_before`` the median over the rounds of ours / before
  within a round (``ratio_to_before_median_of_rounds``: a busy spell that spoils one side's best run in
  one round moves it less).
- ``cold_check``: CPU time (user+sys) of ``adsft check -`` on one message, with a cache-building first
  run and with the pack cache warm; with ``--before``, that checkout's CLI on the same message, runs
  alternated. Each checkout's modules are byte-compiled first, as an installed package's are.
- ``pack_load``: load time of each pack in a fresh process, from the cache and compiled anew.
- ``workers``: ``adsft check --workers 2`` beside ``--workers 1`` on the same file (wall time, best of
  ``--repeats`` alternated runs each, and the median of the per-round ratios), and the CPU time of
  reading the input, which every run spends in one process before any checking.
- ``instructions`` (by name only, minutes under valgrind): CPU instructions per message, ours beside
  the plain-Python run of it and ``--before``'s, with briefs and without. Callgrind's count is the same
  on every run, so the ratio holds where timings on a shared machine move by tens of per cent.
- ``floor``: what one call of ``pack.check`` costs before any text is read: CPU microseconds per
  message for an empty message and a one-word one, beside the corpus with its briefs and the budget a
  goal of 50,000 messages/s leaves (20 us). Every rule runs on every message, so an empty one pays each
  rule's dispatch and first test.
- ``peer``: proselint on a sample of the same English messages.

Messages are mixes of one to three sentences of the labelled sets (never the blind split), each with
the brief of the message its first sentence came from, at most 300 characters.

    python bench/bench_rules.py [--messages 20000] [--old /tmp/oldeng] [--before /tmp/before]
                                [--workers-messages 200000]
                                [--proselint-sample 1000]
                                [--only throughput|floor|peer|cold_check|pack_load|workers|instructions]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = ("labelled_messages", "rules_dev", "rules_dev2")  # rules_test is the blind split: never read


def corpus(language: str, n: int, seed: int = 7) -> list[dict]:
    """``n`` messages as {"text", "brief"} (brief: a dict or None)."""
    sentences: list[tuple[str, dict | None]] = []
    for name in SETS:
        for line in (ROOT / "datasets" / "samples" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["language"] != language:
                continue
            text = row.get("text") or " ".join(p for p in (row.get("title"), row.get("body"), row.get("cta")) if p)
            sentences += [(s.strip(), row.get("brief")) for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        picked = rng.sample(sentences, rng.choice((1, 2, 2, 3)))
        out.append({"text": " ".join(s for s, _ in picked)[:300], "brief": picked[0][1]})
    return out


# Runs in a child process with one engine's checkout first on sys.path: times pack.check on the corpus.
_MEASURE = """
import json, sys, time
root, language, path, with_briefs, repeats = sys.argv[1:6]
sys.path.insert(0, root)
from rules import Brief, load_pack
pack = load_pack(language)
rows = json.load(open(path, encoding="utf-8"))
briefs = {}
items = []
for row in rows:
    b = row["brief"] if with_briefs == "1" else None
    key = json.dumps(b, sort_keys=True) if b else None
    if key is not None and key not in briefs:
        briefs[key] = Brief(**b)
    items.append((row["text"], briefs.get(key)))
for text, brief in items[:2000]:  # warm the per-word caches every engine keeps
    pack.check(text, brief)
best = 0.0
for _ in range(int(repeats)):
    start = time.process_time()
    for text, brief in items:
        pack.check(text, brief)
    best = max(best, len(items) / (time.process_time() - start))
print(best)
"""


@functools.cache
def compiled() -> bool:
    """Does our engine run compiled (setup.py builds it with mypyc)? Asked in a child, as measured."""
    probe = "import rules; print(int(bool(rules.COMPILED)))"
    return subprocess.check_output([sys.executable, "-c", probe], cwd=ROOT, text=True).strip() == "1"


def measure(root: Path, language: str, path: Path, with_briefs: bool, repeats: int = 1, pure: bool = False) -> float:
    args = [sys.executable, "-c", _MEASURE, str(root), language, str(path), "1" if with_briefs else "0", str(repeats)]
    env = {**os.environ, "PYTHONPATH": str(root)} | ({"ADSFT_PURE_PYTHON": "1"} if pure else {})
    return float(subprocess.check_output(args, cwd=root, text=True, env=env).strip())


def naive_rate(language: str, rows: list[dict]) -> tuple[float, int]:
    """The naive loop: one regex per lexicon entry (its inflected forms), lexicon rules only."""
    sys.path.insert(0, str(ROOT))
    from rules import load_pack

    regexes = []
    for check in load_pack(language).checks:
        lexicon = getattr(check, "lexicon", None)
        for phrase in lexicon.phrases if lexicon is not None else ():
            words = [f"(?:{'|'.join(map(re.escape, sorted(forms)))})" for forms in phrase.forms]
            regexes.append(re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE))
    texts = [r["text"] for r in rows[:5000]]
    start = time.process_time()
    for text in texts:
        [m for r in regexes if (m := r.search(text))]
    return len(texts) / (time.process_time() - start), len(regexes)


def throughput(args: argparse.Namespace, tmp: Path) -> None:
    for language in ("ru", "en"):
        rows = corpus(language, args.messages)
        path = tmp / f"{language}.json"
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        naive, entries = naive_rate(language, rows)
        for with_briefs in (True, False):
            engines = {"ours": (ROOT, False)} | ({"python": (ROOT, True)} if compiled() else {})
            engines |= {"old": (Path(args.old), False)} if args.old else {}
            engines |= {"before": (Path(args.before), False)} if args.before else {}
            best = dict.fromkeys(engines, 0.0)
            pairs: list[float] = []  # ours / before within each round
            for _ in range(args.repeats):  # alternate, so that a busy spell of the machine hits all
                rates = {
                    name: measure(root, language, path, with_briefs, pure=pure)
                    for name, (root, pure) in engines.items()
                }
                best = {name: max(best[name], rate) for name, rate in rates.items()}
                if args.before:
                    pairs.append(rates["ours"] / rates["before"])
            line = {
                "bench": "rules",
                "measure": "throughput",
                "pack": language,
                "briefs": with_briefs,
                "messages": len(rows),
                "compiled": compiled(),
                "ours_msgs_per_cpu_s": round(best["ours"]),
                "naive_lexicon_only_msgs_per_cpu_s": round(naive),
                "naive_entries": entries,
                "ratio_to_naive": round(best["ours"] / naive, 2),
            }
            if "python" in best:  # the same engine, its modules run as plain Python
                line |= {"python_msgs_per_cpu_s": round(best["python"])}
                line |= {"ratio_to_python": round(best["ours"] / best["python"], 3)}
            if args.old:
                line |= {"old_msgs_per_cpu_s": round(best["old"]), "ratio_to_old": round(best["ours"] / best["old"], 3)}
            if args.before:
                line |= {"before_msgs_per_cpu_s": round(best["before"])}
                line |= {"ratio_to_before": round(best["ours"] / best["before"], 3)}
                line |= {"ratio_to_before_median_of_rounds": round(statistics.median(pairs), 3)}
            print(json.dumps(line), flush=True)


def floor(messages: int, goal_per_s: int = 50_000) -> None:
    sys.path.insert(0, str(ROOT))
    from rules import Brief, load_pack

    for language in ("ru", "en"):
        pack = load_pack(language)
        briefs: dict[str, Brief] = {}
        items = []
        for row in corpus(language, messages):
            key = json.dumps(row["brief"], sort_keys=True) if row["brief"] else ""
            if key and key not in briefs:
                briefs[key] = Brief(**row["brief"])
            items.append((row["text"], briefs.get(key)))
        word = "Здравствуйте" if language == "ru" else "Hello"
        cases = {"empty": [("", None)] * messages, "one_word": [(word, None)] * messages, "corpus_with_briefs": items}
        line: dict[str, object] = {"bench": "rules", "measure": "floor", "pack": language, "rules": len(pack.checks)}
        line |= {"compiled": compiled(), "goal_us_per_message": round(1e6 / goal_per_s, 1)}
        for name, batch in cases.items():
            for text, brief in batch[:2000]:  # the per-word caches warm, as in any long run
                pack.check(text, brief)
            best = float("inf")
            for _ in range(1 if name == "corpus_with_briefs" else 3):  # once: a text seen again hits caches
                start = time.process_time()
                for text, brief in batch:
                    pack.check(text, brief)
                best = min(best, time.process_time() - start)
            line[f"{name}_us_per_message"] = round(best / len(batch) * 1e6, 1)
        print(json.dumps(line), flush=True)


def proselint(sample: int) -> None:
    """proselint (an English prose linter) on the same English messages: a sample, it is slow."""
    try:
        from proselint.checks import __register__
        from proselint.config import DEFAULT
        from proselint.registry import CheckRegistry
        from proselint.tools import LintFile
    except ImportError:
        print(json.dumps({"bench": "rules", "peer": "proselint", "skipped": "pip install proselint"}), flush=True)
        return
    sys.path.insert(0, str(ROOT))
    from rules import load_pack

    CheckRegistry().register_many(__register__)
    texts = [r["text"] for r in corpus("en", sample)]
    pack = load_pack("en")
    for row in corpus("en", 2000, seed=1):  # our per-word caches warm, as in any long run
        pack.check(row["text"])
    rates = {}
    for name, fn in (("proselint", lambda m: LintFile("<bench>", m).lint(DEFAULT)), ("ours", pack.check)):
        start = time.process_time()
        for text in texts:
            fn(text)
        rates[name] = len(texts) / (time.process_time() - start)
    line = {"bench": "rules", "measure": "peer", "peer": "proselint", "pack": "en", "messages": sample}
    line |= {"peer_msgs_per_cpu_s": round(rates["proselint"], 1), "ours_msgs_per_cpu_s": round(rates["ours"])}
    print(json.dumps(line | {"ratio_to_proselint": round(rates["ours"] / rates["proselint"], 1)}), flush=True)


def child_cpu(argv: list[str], stdin: str = "", env: dict | None = None, cwd: Path = ROOT) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, input=stdin, text=True, capture_output=True, cwd=cwd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


_CLI = "import sys; sys.argv = ['adsft', 'check', '-']; from orchestrator.cli import main; main()"


def cold_check(tmp: Path, before: str | None, runs: int = 9) -> None:
    message = json.dumps({"text": "Оформите карту сегодня и получайте кэшбэк 5% на всё."}, ensure_ascii=False)
    roots = {"ours": ROOT} | ({"before": Path(before)} if before else {})
    env = {
        name: {**os.environ, "ADSFT_RULES_CACHE": str(tmp / f"cold-{name}"), "PYTHONPATH": str(root)}
        for name, root in roots.items()
    }
    argv = [sys.executable, "-c", _CLI]
    for root in roots.values():  # bytecode as an installed package has it (PYTHONDONTWRITEBYTECODE=1 would
        # otherwise leave an editable checkout compiling every module of its own on every run)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "rules", "orchestrator", "providers"], cwd=root)
    building = child_cpu(argv, message + "\n", env["ours"])
    for name in roots:
        child_cpu(argv, message + "\n", env[name])  # every cache warm
    warm = dict.fromkeys(roots, 9.0)
    for _ in range(runs):  # alternate, so that a busy spell of the machine hits all
        for name in roots:
            warm[name] = min(warm[name], child_cpu(argv, message + "\n", env[name], cwd=roots[name]))
    bare = min(child_cpu([sys.executable, "-c", "pass"]) for _ in range(runs))
    line = {"bench": "rules", "measure": "cold_check", "building_cache_cpu_s": round(building, 3)}
    line |= {"warm_cache_cpu_s": round(warm["ours"], 3), "bare_python_cpu_s": round(bare, 3)}
    if before:
        line |= {"before_warm_cache_cpu_s": round(warm["before"], 3)}
    print(json.dumps(line), flush=True)


_LOAD = """
import sys, time
from rules import load_pack
start = time.perf_counter(); load_pack(sys.argv[1]); print(time.perf_counter() - start)
"""


def pack_load(tmp: Path, runs: int = 3) -> None:
    for language in ("ru", "en"):
        times = {}
        for mode in ("off", str(tmp / "load-cache")):
            env = {**os.environ, "ADSFT_RULES_CACHE": mode}
            load = [sys.executable, "-c", _LOAD, language]
            subprocess.run(load, cwd=ROOT, env=env, capture_output=True, check=True)  # fills the cache
            times[mode] = min(float(subprocess.check_output(load, cwd=ROOT, env=env, text=True)) for _ in range(runs))
        cached, fresh = times[str(tmp / "load-cache")], times["off"]
        line = {"bench": "rules", "measure": "pack_load", "pack": language, "from_cache_s": round(cached, 4)}
        print(json.dumps(line | {"compiled_s": round(fresh, 3), "speedup": round(fresh / cached, 1)}), flush=True)


def workers(tmp: Path, n: int, rounds: int) -> None:
    rows = corpus("ru", n // 2, seed=3) + corpus("en", n - n // 2, seed=4)
    path = tmp / "many.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"id": str(i), **row}, ensure_ascii=False) + "\n")
    sys.path.insert(0, str(ROOT))
    from orchestrator.checking import read_messages

    start = time.process_time()
    read_messages(str(path))  # the part no worker shares: the whole input is read before checking starts
    read = time.process_time() - start
    adsft = str(Path(sys.executable).with_name("adsft"))
    wall: dict[int, list[float]] = {1: [], 2: []}
    outputs = {}
    for _ in range(rounds):  # alternated, so that a busy spell of the machine hits both
        for count in (1, 2):
            start = time.perf_counter()
            done = subprocess.run([adsft, "check", str(path), "--json", "--workers", str(count)], capture_output=True)
            wall[count].append(time.perf_counter() - start)
            outputs[count] = done.stdout
    one, two = min(wall[1]), min(wall[2])
    line = {"bench": "rules", "measure": "workers", "messages": n, "rounds": rounds, "one_worker_s": round(one, 1)}
    line |= {"two_workers_s": round(two, 1), "speedup": round(one / two, 2)}
    ratios = [a / b for a, b in zip(wall[1], wall[2], strict=True)]
    line |= {"speedup_median_of_rounds": round(statistics.median(ratios), 2)}
    line |= {"same_output": outputs[1] == outputs[2], "cores": os.cpu_count(), "reading_cpu_s": round(read, 2)}
    print(json.dumps(line | {"machine_two_process_speedup": machine_parallelism()}), flush=True)


def _spin(_: int) -> int:
    total = 0
    for i in range(10_000_000):
        total += i
    return total


def machine_parallelism() -> float:
    """What two processes gain on this machine at best: a pure loop run twice in one process against
    once in each of two (a machine whose cores share one CPU's time gains nothing)."""
    import multiprocessing

    start = time.perf_counter()
    _spin(0), _spin(1)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_spin, range(2))
    return round(serial / (time.perf_counter() - start), 2)


# Runs under callgrind: checks the corpus inside functools.reduce, the only code whose instructions count
# (--toggle-collect), so that loading Python, pymorphy3 and the pack counts nothing.
_COUNTED = """
import functools, json, sys
root, language, path, with_briefs = sys.argv[1:5]
sys.path.insert(0, root)
from rules import Brief, load_pack
pack = load_pack(language)
rows = json.load(open(path, encoding="utf-8"))
briefs = {}  # one object per brief, as a caller checking many messages against a brief has
items = []
for row in rows:
    key = json.dumps(row["brief"], sort_keys=True) if with_briefs == "1" and row["brief"] else None
    if key is not None and key not in briefs:
        briefs[key] = Brief(**row["brief"])
    items.append((row["text"], briefs.get(key)))
for text, brief in items[:1000]:  # warm the per-word caches, as in any long run
    pack.check(text, brief)
functools.reduce(lambda done, item: (pack.check(*item), done + 1)[1], items[1000:], 0)
"""


def instructions(tmp: Path, before: str | None, messages: int = 2000) -> None:
    """CPU instructions per message (callgrind's count, the same on every run: no busy spell of the
    machine moves it), ours beside the same engine run as plain Python (where ours is compiled) and
    ``--before``'s, on the same messages; each ratio is theirs / ours."""
    engines = {"ours": (ROOT, False)} | ({"python": (ROOT, True)} if compiled() else {})
    engines |= {"before": (Path(before), False)} if before else {}
    if shutil.which("valgrind") is None or len(engines) == 1:
        skipped = "needs valgrind, and a compiled engine or --before"
        print(json.dumps({"bench": "rules", "measure": "instructions", "skipped": skipped}))
        return
    for language in ("ru", "en"):
        path = tmp / f"counted-{language}.json"
        path.write_text(json.dumps(corpus(language, 1000, seed=99) + corpus(language, messages)), encoding="utf-8")
        for with_briefs in ("1", "0"):
            counts = {}
            for name, (root, pure) in engines.items():
                env = {**os.environ, "PYTHONHASHSEED": "0", "ADSFT_RULES_CACHE": str(tmp / f"counted-{name}")}
                env |= {"ADSFT_PURE_PYTHON": "1"} if pure else {}
                argv = [sys.executable, "-c", _COUNTED, str(root), language, str(path), with_briefs]
                subprocess.run(argv, env=env, check=True, capture_output=True)  # builds the pack cache
                grind = ["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce"]
                done = subprocess.run(
                    [*grind, "--callgrind-out-file=/dev/null", *argv],
                    env=env,
                    text=True,
                    capture_output=True,
                    check=True,
                )
                counts[name] = int(re.search(r"Collected : (\d+)", done.stderr).group(1)) / messages  # type: ignore[union-attr]
            line = {"bench": "rules", "measure": "instructions", "pack": language, "briefs": with_briefs == "1"}
            line |= {"messages": messages, "compiled": "python" in counts}
            for name, count in counts.items():
                line |= {f"{name}_per_message": round(count)}
                if name != "ours":
                    line |= {f"ratio_to_{name}": round(count / counts["ours"], 3)}
            print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--old", help="a checkout of another engine to measure beside ours")
    parser.add_argument("--before", help="a checkout of this project before a change, measured beside ours")
    parser.add_argument("--workers-messages", type=int, default=200_000, help="0 skips the workers measure")
    parser.add_argument("--proselint-sample", type=int, default=1_000, help="0 skips proselint")
    measures = ("throughput", "floor", "peer", "cold_check", "pack_load", "workers", "instructions")
    parser.add_argument("--only", choices=measures)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.only in (None, "throughput"):
            throughput(args, tmp)
        if args.only in (None, "floor"):
            floor(args.messages)
        if args.only in (None, "peer") and args.proselint_sample:
            proselint(args.proselint_sample)
        if args.only in (None, "cold_check"):
            cold_check(tmp, args.before)
        if args.only in (None, "pack_load"):
            pack_load(tmp)
        if args.only in (None, "workers") and args.workers_messages:
            workers(tmp, args.workers_messages, args.repeats)
        if args.only == "instructions":  # minutes under valgrind: asked for by name only
            instructions(tmp, args.before)


if __name__ == "__main__":
    main()
