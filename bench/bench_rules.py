"""Rule engine throughput on one core: messages/s for the full built-in packs over >= 100k messages,
beside (a) a naive baseline — one precompiled ``re.search`` per lexicon entry, over the same inflected
forms, lexicon rules only — and (b) proselint on the same English messages (a sample: it is slow).
Also pack load time (with morphological expansion, measured in a fresh process).

Messages are built deterministically from the bundled labelled sentences: random sentence mixes,
clean and with errors, at most 300 characters. Prints one JSON object per line.

    python bench/bench_rules.py [--messages 100000] [--proselint-sample 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rules import load_pack  # noqa: E402


def corpus(language: str, n: int, seed: int = 7) -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "datasets/samples/labelled_messages.jsonl").read_text().splitlines()]
    sentences = [
        s.strip() for r in rows if r["language"] == language for s in re.split(r"(?<=[.!?])\s+", r["text"]) if s.strip()
    ]
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        k = rng.choice((1, 2, 2, 3))
        text = " ".join(rng.sample(sentences, k))
        out.append(text[:300])
    return out


def naive_baseline(pack) -> list[re.Pattern[str]]:
    regexes = []
    for check in pack.checks:
        lexicon = getattr(check, "lexicon", None)
        if lexicon is None:
            continue
        for phrase in lexicon.phrases:
            words = [f"(?:{'|'.join(map(re.escape, sorted(forms)))})" for forms in phrase.forms]
            regexes.append(re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE))
    return regexes


def timed(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - start


def load_time(name: str) -> float:
    code = (
        f"import time; t = time.perf_counter(); from rules import load_pack; load_pack({name!r}); "
        "print(time.perf_counter() - t)"
    )
    return float(subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, text=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--proselint-sample", type=int, default=2_000)
    args = parser.parse_args()
    for language in ("ru", "en"):
        pack = load_pack(language)
        messages = corpus(language, args.messages)
        ours = timed(pack.check, messages)
        failed = sum(not pack.check(m).passed for m in messages[:5000]) / min(5000, len(messages))
        regexes = naive_baseline(pack)

        def naive(text: str, regexes=regexes) -> list:
            return [m for r in regexes if (m := r.search(text))]

        naive_n = min(len(messages), 20_000)
        naive_s = timed(naive, messages[:naive_n])
        ours_rate = len(messages) / ours
        naive_rate = naive_n / naive_s
        print(
            json.dumps(
                {
                    "bench": "rules",
                    "pack": language,
                    "messages": len(messages),
                    "share_with_errors": round(failed, 3),
                    "ours_msgs_per_s": round(ours_rate),
                    "naive_lexicon_only_msgs_per_s": round(naive_rate),
                    "naive_entries": len(regexes),
                    "speedup_vs_naive": round(ours_rate / naive_rate, 1),
                    "pack_load_s": round(load_time(language), 3),
                }
            )
        )
        if language == "en":
            print(json.dumps(proselint_line(pack, messages[: args.proselint_sample], ours_rate)))


def proselint_line(pack, messages: list[str], ours_rate: float) -> dict:
    try:
        from proselint.checks import __register__
        from proselint.config import DEFAULT
        from proselint.registry import CheckRegistry
        from proselint.tools import LintFile
    except ImportError:
        return {"bench": "rules", "peer": "proselint", "skipped": "pip install proselint"}
    CheckRegistry().register_many(__register__)
    seconds = timed(lambda m: LintFile("<bench>", m).lint(DEFAULT), messages)
    rate = len(messages) / seconds
    return {
        "bench": "rules",
        "pack": "en",
        "peer": "proselint",
        "peer_messages": len(messages),
        "peer_msgs_per_s": round(rate, 1),
        "ours_msgs_per_s": round(ours_rate),
        "speedup_vs_proselint": round(ours_rate / rate, 1),
    }


if __name__ == "__main__":
    main()
