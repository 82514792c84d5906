"""`adsft improve`: supervised tuning, then preference tuning on what the rules rejected, measured.

SFT job -> score the SFT model on its own training briefs (several samples each: passing and failing
messages) -> preference pairs -> DPO job that starts from the SFT job (its reference) -> score SFT and
SFT+DPO on held-out briefs -> compare, paired by brief. Each step's outcome is recorded in the ledger; running
the same command again continues after the last finished step (jobs are found again by their idempotency
key, scoring runs continue from their attempts). Pairs are mined on training briefs only, so the held-out
briefs that decide the verdict never reach training.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import providers
from orchestrator import jobs, render
from orchestrator.briefs import load_briefs, load_eval
from orchestrator.compare import compare
from orchestrator.errors import AdsftError, InputError
from orchestrator.formats import write_jsonl
from orchestrator.jobspec import load_spec
from orchestrator.ledger import Ledger
from orchestrator.pairs import PairsConfig, make_pairs
from orchestrator.paths import data_dir, home
from orchestrator.report import write_report
from orchestrator.runs import load_run, outcomes, summarize
from orchestrator.score import ScoreConfig, run_score
from orchestrator.synth import SynthConfig, synthesize


@dataclass
class ImproveConfig:
    model: str = "smollm2"
    provider: str | None = None  # None: the registry's offline provider (needs no key)
    folder: Path | None = None  # default: ADSFT_HOME/improve/<model>
    language: str = "en"
    examples: int = 64  # clean synthetic SFT examples
    mine_briefs: int = 40  # training briefs scored to mine pairs
    samples: int = 4  # samples per mining brief
    briefs: int = 20  # held-out evaluation briefs
    k: int = 3  # regeneration cap on the held-out briefs
    temperature: float = 0.7
    max_tokens: int = 64
    beta: float = 0.1
    max_per_prompt: int = 2
    rules: tuple[str, ...] = ()
    seed: int = 0
    yes: bool = False  # a provider that bills per token trains two paid jobs: the user says so

    def settings(self) -> dict:
        """What decides the run's results, as JSON reads it back."""
        return json.loads(json.dumps({k: v for k, v in asdict(self).items() if k not in ("folder", "yes")}))


Step = Callable[[], dict]


class Pipeline:
    """Named steps whose results the ledger keeps: a finished step is not run again."""

    def __init__(self, ledger: Ledger, name: str) -> None:
        self.ledger, self.name = ledger, name
        self.seconds: dict[str, float] = {}

    def __call__(self, step: str, work: Step) -> dict:
        done = self.ledger.step(self.name, step)
        if done is not None and done["status"] == "done":
            render.err.print(f"step {step}: finished before, reused")
            return done["result"]
        render.err.rule(f"improve: {step}")
        self.ledger.step_started(self.name, step)
        started = time.perf_counter()
        try:
            result = work()
        except BaseException as exc:
            self.ledger.step_finished(self.name, step, "failed", {"error": str(exc) or type(exc).__name__})
            raise
        self.seconds[step] = round(time.perf_counter() - started, 1)
        self.ledger.step_finished(self.name, step, "done", {**result, "seconds": self.seconds[step]})
        return result


def run_improve(cfg: ImproveConfig) -> dict:
    cfg.provider = cfg.provider or providers.offline_provider()
    folder = (cfg.folder or home() / "improve" / cfg.model.replace("/", "_")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    _check(cfg, folder)
    ledger = Ledger()
    step = Pipeline(ledger, str(folder))
    data = folder / "data"
    step("synth", lambda: _synth(cfg, data))
    sft_spec = _spec(cfg, data / "train.jsonl", data / "val.jsonl")
    sft = step("sft", lambda: _train(cfg, ledger, folder / "sft.yaml", sft_spec))
    sft_model = _scoring_model(cfg.model, sft["result_model"])
    mine_file = folder / "mine.jsonl"
    mining = step("mine", lambda: _mine(cfg, data, mine_file, sft_model, folder / "runs" / "mine"))
    pairs_file = folder / "pairs.jsonl"
    pairs = step("pairs", lambda: _pairs(cfg, Path(mining["run"]), pairs_file, data))
    val_pairs = Path(pairs["files"]["validation"]) if "validation" in pairs["files"] else None
    extra = f"method: dpo\nbeta: {cfg.beta}\nfrom_job: {sft['job']}\n"
    dpo_spec = _spec(cfg, pairs_file, val_pairs, extra)
    dpo = step("dpo", lambda: _train(cfg, ledger, folder / "dpo.yaml", dpo_spec))
    dpo_model = _scoring_model(cfg.model, dpo["result_model"])
    eval_file = _held_out(cfg, folder / f"eval_{cfg.language}.jsonl")
    runs = {"sft": folder / "runs" / "sft", "sft+dpo": folder / "runs" / "sft+dpo"}
    step("score sft", lambda: _score(cfg, sft_model, runs["sft"], eval_file, "sft", cfg.k))
    step("score dpo", lambda: _score(cfg, dpo_model, runs["sft+dpo"], eval_file, "sft+dpo", cfg.k))
    result = step("compare", lambda: _compare(cfg, runs, folder / "report"))
    result["pairs"] = {k: pairs[k] for k in ("pairs", "train", "validation", "from_attempts", "from_synthetic")}
    result["pairs_per_rule"] = pairs["per_rule"]
    result["steps"] = {s["name"]: _describe(s) for s in ledger.steps(str(folder))}
    result["jobs"] = {"sft": sft["job"], "dpo": dpo["job"]}
    (folder / "result.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return result


def _check(cfg: ImproveConfig, folder: Path) -> None:
    if cfg.samples < 2 or cfg.mine_briefs < 1 or cfg.briefs < 2 or cfg.k < 1:
        raise InputError("improve needs --samples >= 2, --mine-briefs >= 1, --briefs >= 2 and --k >= 1")
    if providers.facts(cfg.provider).billing != "gpu_hours" and not cfg.yes:
        raise InputError(
            f"improve trains two paid jobs on {cfg.provider}",
            fix="see the cost first with `adsft estimate`, then pass --yes",
        )
    saved = folder / "improve.json"
    if saved.is_file() and json.loads(saved.read_text()) != cfg.settings():
        raise InputError(
            f"{folder} holds an improve run with other settings",
            fix="use the same options to continue it, or another --folder",
        )
    saved.write_text(json.dumps(cfg.settings()))


def _describe(step: dict) -> str:
    result = step["result"] or {}
    seconds = f" ({result['seconds']:.0f} s)" if isinstance(result.get("seconds"), int | float) else ""
    return f"{step['status']}: {result.get('summary') or result.get('error') or ''}{seconds}"


def _synth(cfg: ImproveConfig, data: Path) -> dict:
    with render.progress() as update:
        summary = synthesize(
            SynthConfig(out=data, n=cfg.examples, seed=cfg.seed, languages=(cfg.language,), fmt="chat"), update
        )
    return {"summary": f"{summary.train} train / {summary.validation} validation clean examples", **summary.files}


def _spec(cfg: ImproveConfig, train: Path, val: Path | None, extra: str = "") -> str:
    lines = f"providers: [{cfg.provider}]\nmodel: {cfg.model}\ntraining_file: {train}\nseed: {cfg.seed}\n"
    has_val = val is not None and val.is_file() and val.stat().st_size > 0  # a small set may have no validation
    return lines + (f"validation_file: {val}\n" if has_val else "") + extra


def _train(cfg: ImproveConfig, ledger: Ledger, spec_path: Path, text: str) -> dict:
    spec_path.write_text(text, encoding="utf-8")
    submitted = jobs.submit(load_spec(spec_path), ledger, [cfg.provider])
    assert submitted.job is not None
    with render.live_job() as update:
        job = jobs.watch(ledger, submitted.job.id, update, interval=2.0)
    if job.status != "succeeded" or not job.result_model:
        raise AdsftError(f"job {job.id} ended {job.status}: {job.error}", fix=f"see `adsft events {job.id}`")
    return {"summary": f"{job.id} {job.status}", "job": job.id, "result_model": job.result_model}


def _scoring_model(base: str, result_model: str) -> str:
    """What scoring asks for: a service's tuned model id, or `BASE+ADAPTER` for an adapter folder."""
    return f"{base}+{result_model}" if Path(result_model).is_dir() else result_model


def _mine(cfg: ImproveConfig, data: Path, mine_file: Path, model: str, run: Path) -> dict:
    """Score the SFT model on the briefs it was trained on, several samples each (an evaluation file whose
    references are the briefs' clean synthetic examples)."""
    catalog = load_briefs(data_dir() / "briefs" / "catalog.jsonl")
    texts: dict[str, list[str]] = {}
    lines = (data / "train.jsonl").read_text(encoding="utf-8").splitlines()
    for raw in (data / "examples.meta.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(raw)
        if row["split"] == "train":
            texts.setdefault(row["brief_id"], []).append(json.loads(lines[row["line"] - 1])["messages"][-1]["content"])
    ids = sorted(texts)
    np.random.default_rng(cfg.seed).shuffle(ids)
    chosen = ids[: cfg.mine_briefs]
    write_jsonl(mine_file, ({"brief": catalog[i].model_dump(), "references": texts[i]} for i in chosen))
    return {**_score(cfg, model, run, mine_file, "sft (mining)", cfg.samples, cfg.samples), "run": str(run)}


def _pairs(cfg: ImproveConfig, run: Path, out: Path, data: Path) -> dict:
    config = PairsConfig([run], out, None, cfg.rules, cfg.max_per_prompt, 0.1, data, cfg.seed)
    summary = make_pairs(config)
    return {"summary": f"{summary.pairs} pairs ({summary.from_synthetic} against a clean example)", **summary.as_dict()}


def _held_out(cfg: ImproveConfig, path: Path) -> Path:
    """The first `briefs` held-out briefs of the language, as their own evaluation file."""
    source = data_dir() / "briefs" / "eval.jsonl"
    chosen = [{"brief": b.model_dump(), "references": r} for b, r in load_eval(source) if b.language == cfg.language]
    write_jsonl(path, chosen[: cfg.briefs])
    return path


def _score(cfg: ImproveConfig, model: str, run: Path, eval_file: Path, label: str, k: int, samples=None) -> dict:
    config = ScoreConfig(
        cfg.provider,
        model,
        run,
        eval_file=eval_file,
        k=k,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        seed=cfg.seed,
        label=label,
        samples=samples,
    )
    with render.progress() as update:
        run_score(config, update)
    s = summarize(run)
    return {"summary": f"mean regenerations {s.mean_regenerations:.2f}, pass@1 {s.pass_at_1:.0%}", "run": str(run)}


def _mean_ci(run: Path, seed: int, n: int = 2000) -> tuple[float, float, float]:
    """Mean regenerations over the run's briefs, with a 95% bootstrap interval."""
    meta, by_brief = load_run(run)
    values = np.array([o.regenerations for o in outcomes(meta, by_brief)], float)
    draws = values[np.random.default_rng(seed).integers(0, len(values), size=(n, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def _compare(cfg: ImproveConfig, runs: dict[str, Path], report: Path) -> dict:
    comparison = compare(runs["sft"], runs["sft+dpo"], cfg.seed)
    regen = comparison.differences[0]
    figures = {}
    for label, run in runs.items():
        mean, low, high = _mean_ci(run, cfg.seed)
        s = summarize(run)
        figures[label] = {
            "mean_regenerations": round(mean, 4),
            "ci": [round(low, 4), round(high, 4)],
            "pass_at_1": s.pass_at_1,
            "pass_at_k": s.pass_at_k,
            "briefs": s.briefs,
            "k": s.k,
        }
    difference = {
        "mean_regenerations": round(regen.difference or 0.0, 4),
        "ci_low": round(regen.ci_low, 4) if regen.ci_low is not None else None,
        "ci_high": round(regen.ci_high, 4) if regen.ci_high is not None else None,
        "p": regen.p_value,
    }
    verdict = _verdict(figures, difference)
    paths = write_report(comparison, report, verdict)
    return {
        "summary": verdict,
        "verdict": verdict,
        "sft": figures["sft"],
        "sft+dpo": figures["sft+dpo"],
        "difference": difference,
        "report": str(paths["html"]),
    }


def _verdict(figures: dict, diff: dict) -> str:
    a, b = figures["sft"], figures["sft+dpo"]
    shown = (
        f"SFT {a['mean_regenerations']:.2f} [{a['ci'][0]:.2f}, {a['ci'][1]:.2f}] -> SFT+DPO "
        f"{b['mean_regenerations']:.2f} [{b['ci'][0]:.2f}, {b['ci'][1]:.2f}] regenerations on {a['briefs']} "
        f"held-out briefs (K={a['k']}); difference {diff['mean_regenerations']:+.2f}, 95% CI "
        f"[{diff['ci_low']:.2f}, {diff['ci_high']:.2f}]"
    )
    if diff["ci_high"] is not None and diff["ci_high"] < 0:
        return f"SFT+DPO better: {shown}"
    if diff["ci_low"] is not None and diff["ci_low"] > 0:
        return f"SFT+DPO worse: {shown}"
    return f"SFT+DPO not shown better (the 95% CI includes 0): {shown}"
