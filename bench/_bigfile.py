"""A large, realistic chat-format training file for the validation and cost benchmarks (not a test)."""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_file(path: Path, examples: int, seed: int = 11) -> Path:
    """`examples` chat examples of about 1.5 KB each, built from the bundled prompt and sample texts."""
    if path.exists() and path.stat().st_size > 0:
        return path
    import sys

    sys.path.insert(0, str(ROOT))
    from orchestrator.briefs import load_briefs
    from orchestrator.prompting import build_prompt

    briefs = list(load_briefs(ROOT / "datasets" / "briefs" / "catalog.jsonl").values())
    rows = [json.loads(x) for x in (ROOT / "datasets/samples/labelled_messages.jsonl").read_text().splitlines()]
    texts = {lang: [r["text"] for r in rows if r["language"] == lang] for lang in ("ru", "en")}
    rng = random.Random(seed)
    prompts = {b.id: build_prompt(b) for b in briefs}
    with path.open("w", encoding="utf-8") as handle:
        for i in range(examples):
            brief = briefs[i % len(briefs)]
            chat = [dict(m) for m in prompts[brief.id]]
            chat[1]["content"] += "\n" + " ".join(rng.sample(texts[brief.language], 7))  # longer, varied prompts
            answer = f"{rng.choice(texts[brief.language])} #{i}"
            chat.append({"role": "assistant", "content": answer})
            handle.write(json.dumps({"messages": chat}, ensure_ascii=False) + "\n")
    return path
