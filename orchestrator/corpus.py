"""The generic bundled text the embedded tiny model is pre-trained on: the prompts of the catalog briefs
and the sample messages (with their errors). The pipeline passes it to the providers
(`providers.configure(pretraining_texts=...)`, done in orchestrator/__init__.py): providers import
nothing of the pipeline."""

from __future__ import annotations

import json

from orchestrator.paths import data_dir


def pretraining_texts() -> list[str]:
    from orchestrator.briefs import load_briefs
    from orchestrator.prompting import build_prompt

    texts = []
    for brief in load_briefs(data_dir() / "briefs" / "catalog.jsonl").values():
        texts.extend(m["content"] for m in build_prompt(brief))
    samples = data_dir() / "samples" / "labelled_messages.jsonl"
    texts.extend(json.loads(line)["text"] for line in samples.read_text(encoding="utf-8").splitlines())
    return texts
