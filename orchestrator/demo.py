"""`adsft demo`: the whole pipeline on the embedded default, offline, on a CPU.

Every step that exists runs here, in pipeline order; the README's first command is always `adsft demo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import render
from orchestrator.checking import check_items, read_messages
from orchestrator.estimate import estimate
from orchestrator.paths import data_dir, home
from orchestrator.pricing import load_catalog
from orchestrator.synth import SynthConfig, synthesize
from orchestrator.validate import validate
from rules import load_pack


@dataclass
class DemoSummary:
    steps: list[tuple[str, str]] = field(default_factory=list)
    folder: Path | None = None


def run_demo(examples: int = 600, seed: int = 0) -> DemoSummary:
    summary = DemoSummary(folder=home() / "demo")
    samples = data_dir() / "samples"
    for language in ("ru", "en"):
        render.err.rule(f"check: bundled {language} sample messages against the built-in {language} pack")
        report = check_items(load_pack(language), read_messages(str(samples / f"messages_{language}.jsonl")))
        render.check_report(report)
        summary.steps.append((f"check {language}", f"{len(report.results)} messages, {report.failed} with errors"))

    render.err.rule("synth: clean training examples from the bundled briefs")
    data = summary.folder / "data"
    with render.progress() as update:
        synth = synthesize(SynthConfig(out=data, n=examples, seed=seed), update)
    render.synth_summary(synth)
    summary.steps.append(
        (
            "synth",
            f"{synth.candidates} candidates, {synth.passed} clean, {synth.selected} selected "
            f"({synth.train} train / {synth.validation} validation)",
        )
    )

    render.err.rule("validate: the files as OpenAI would receive them")
    report = validate(data / "train.jsonl", "openai", "gpt-4o-mini-2024-07-18", data / "val.jsonl")
    render.validation(report)
    summary.steps.append(("validate", f"{report.errors} errors, {report.warnings} warnings"))

    render.err.rule("estimate: the same run on OpenAI, Together and a local GPU")
    rows = estimate(
        data / "train.jsonl", data / "val.jsonl", ["openai", "together", "local"], [], load_catalog(), n_evals=2
    )
    render.estimate_table(rows)
    summary.steps.append(("estimate", ", ".join(f"{r.provider} ${r.cost_usd:.2f}" for r in rows)))
    return summary
