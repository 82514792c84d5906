"""`adsft demo`: the whole pipeline on the embedded default, offline, on a CPU.

Every step that exists runs here, in pipeline order; the README's first command is always `adsft demo`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import providers
from orchestrator import jobs, render
from orchestrator.checking import check_items, read_messages
from orchestrator.compare import compare
from orchestrator.errors import AdsftError
from orchestrator.estimate import estimate
from orchestrator.jobspec import load_spec
from orchestrator.ledger import Ledger
from orchestrator.paths import data_dir, home
from orchestrator.pricing import load_catalog
from orchestrator.report import write_report
from orchestrator.runs import summarize
from orchestrator.score import ScoreConfig, run_score
from orchestrator.synth import SynthConfig, synthesize
from orchestrator.validate import validate
from rules import load_pack


@dataclass
class DemoSummary:
    steps: list[tuple[str, str]] = field(default_factory=list)
    folder: Path | None = None
    report: Path | None = None


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

    first = providers.default_provider()
    render.err.rule(f"validate: the files as {first} would receive them")
    report = validate(data / "train.jsonl", first, providers.facts(first).default_model, data / "val.jsonl")
    render.validation(report)
    summary.steps.append(("validate", f"{report.errors} errors, {report.warnings} warnings"))

    compared = providers.ranked()
    render.err.rule(f"estimate: the same run on {', '.join(compared)}")
    rows = estimate(data / "train.jsonl", data / "val.jsonl", compared, [], load_catalog(), n_evals=2)
    render.estimate_table(rows)
    summary.steps.append(("estimate", ", ".join(f"{r.provider} ${r.cost_usd:.2f}" for r in rows)))

    offline = providers.offline_provider()
    render.err.rule(f"fine-tune: LoRA on the embedded tiny base, in a {offline} worker process")
    job = _fine_tune(summary.folder, data, offline)
    summary.steps.append(("fine-tune", f"{job.id} {job.status}: {job.result_model}"))

    render.err.rule("score: base vs tuned by regeneration count on the held-out briefs")
    base_run, tuned_run = summary.folder / "runs" / "base", summary.folder / "runs" / "tuned"
    for run, model, label in ((base_run, "tiny", "base"), (tuned_run, f"tiny+{job.result_model}", "tuned")):
        if run.exists():
            shutil.rmtree(run)
        with render.progress() as update:
            run_score(ScoreConfig(offline, model, run, k=5, temperature=0.5, seed=seed, label=label), update)
        render.run_summary(summarize(run))

    render.err.rule("compare: tuned (B) against base (A)")
    comparison = compare(base_run, tuned_run, seed)
    render.comparison(comparison)
    paths = write_report(comparison, summary.folder / "report")
    regen = comparison.differences[0]
    summary.steps.append(("verdict", f"mean regenerations {regen.a:.2f} -> {regen.b:.2f}: {regen.verdict}"))
    summary.report = paths["html"]
    return summary


def _fine_tune(folder: Path, data: Path, provider: str):
    spec_path = folder / "job.yaml"
    spec_path.write_text(
        f"providers: [{provider}]\nmodel: tiny\ntraining_file: data/train.jsonl\n"
        "validation_file: data/val.jsonl\nseed: 0\n",
        encoding="utf-8",
    )
    ledger = Ledger()
    result = jobs.submit(load_spec(spec_path), ledger, [provider])
    with render.live_job() as update:
        job = jobs.watch(ledger, result.job.id, update, interval=2.0)
    render.jobs_table([job])
    if job.status != "succeeded":
        raise AdsftError(f"the local fine-tune ended {job.status}: {job.error}", fix=f"see `adsft events {job.id}`")
    return job
