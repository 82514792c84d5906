"""Reading a scoring run back: per-brief outcomes and the run's metrics."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from orchestrator.briefs import load_eval
from orchestrator.errors import InputError
from orchestrator.ledger import Ledger
from orchestrator.metrics import reference_metrics
from orchestrator.paths import data_dir, home
from orchestrator.pricing import Catalog, load_catalog

SLOT_CATEGORIES = {"fact_mismatch", "unsupported_number", "missing_required_fact"}


@dataclass
class BriefOutcome:
    brief_id: str
    attempts: int
    passed: bool
    first_pass: int | None  # 1-based attempt that first passed
    regenerations: int  # attempts - 1 when passed; K (the cap) when it never passed
    cost_usd: float | None
    latency_s: float
    final_text: str


@dataclass
class RunSummary:
    run: str
    label: str
    provider: str
    model: str
    mode: str
    briefs: int
    k: int
    attempts: int
    mean_regenerations: float
    failed_share: float
    pass_at_1: float
    pass_at_k: float
    pass_at_k_unbiased: dict[str, float] = field(default_factory=dict)
    bad_outputs: dict[str, int] = field(default_factory=dict)
    rule_failure_rate: dict[str, float] = field(default_factory=dict)
    category_failure_rate: dict[str, float] = field(default_factory=dict)
    slot_error_rate: float = 0.0
    cost_per_accepted_usd: float | None = None
    cost_per_brief_usd: float | None = None  # what the counted attempts of a brief cost, on average
    latency_p50_s: float | None = None  # per accepted message (None when nothing was accepted)
    latency_p95_s: float | None = None
    throughput_msgs_per_s: float | None = None
    reference: dict = field(default_factory=dict)  # on every brief's final attempt (accepted or last)

    def as_dict(self) -> dict:
        return asdict(self)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator 1 - C(n-c, k) / C(n, k) from n samples with c correct."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def load_run(run_dir: str | Path) -> tuple[dict, dict[str, list[dict]]]:
    run_dir = Path(run_dir)
    meta_path, attempts_path = run_dir / "run.json", run_dir / "attempts.jsonl"
    if not meta_path.is_file() or not attempts_path.is_file():
        raise InputError(f"{run_dir} is not a scoring run", fix="pass a folder written by `adsft score`")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    by_brief: dict[str, list[dict]] = {}
    for line in attempts_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            a = json.loads(line)
            by_brief.setdefault(a["brief_id"], []).append(a)
    return meta, by_brief


def inference_prices(catalog: Catalog, provider: str, model: str) -> tuple[float, float] | None:
    """Inference $/1M tokens (input, output) of a model: its own entry, else, for a fine-tuned model, the
    fine-tuned-inference price of its base (OpenAI's `sft` entries) or the base's price (Together bills
    LoRA adapters at the base model's rate)."""
    own = _own_prices(catalog, provider, model)
    if own is not None:
        return own
    base = fine_tuned_base(provider, model)  # only looked up for a model the catalog does not price
    return _own_prices(catalog, provider, base) if base else None


def _own_prices(catalog: Catalog, provider: str, model: str) -> tuple[float, float] | None:
    for method in ("sft", "inference"):
        try:
            p = catalog.price(provider, model, method)
        except InputError:
            continue
        if p.inference_input_per_1m is not None and p.inference_output_per_1m is not None:
            return p.inference_input_per_1m, p.inference_output_per_1m
    return None


def fine_tuned_base(provider: str, model: str) -> str | None:
    """The base model of a fine-tuned model id: OpenAI names it (`ft:BASE:org[:suffix]:id`); otherwise the
    ledger knows it when the fine-tune was run from here (Together output names, local adapters)."""
    if model.startswith("ft:"):
        return model.split(":")[1] or None
    path = home() / "ledger.sqlite"
    if not path.is_file():  # reading prices never creates a ledger
        return None
    ledger = Ledger(path)
    try:
        return ledger.base_model_of(provider, model)
    finally:
        ledger.close()


def machine_hour_usd(catalog: Catalog, provider: str) -> float | None:
    """$/hour of the machine a provider that bills by the hour (the local backend) generates on."""
    import providers

    try:
        if providers.facts(provider).billing != "gpu_hours":
            return None
        return catalog.price(provider, None, "gpu_hour").gpu_hour_usd
    except (InputError, KeyError, LookupError):
        return None


def outcomes(meta: dict, by_brief: dict[str, list[dict]], catalog: Catalog | None = None) -> list[BriefOutcome]:
    k = int(meta["k"])
    catalog = catalog or load_catalog()
    prices = inference_prices(catalog, meta["provider"], meta["model"])
    hourly = None if prices else machine_hour_usd(catalog, meta["provider"])
    out = []
    for brief_id, attempts in sorted(by_brief.items()):
        first = next((a["attempt"] for a in attempts if a["passed"]), None)
        considered = attempts[: first or k]
        cost = None
        if prices:
            cost = sum(a["tokens_in"] * prices[0] + a["tokens_out"] * prices[1] for a in considered) / 1e6
        elif hourly is not None:  # billed by the hour: the machine time each attempt took (its share of a batch)
            cost = sum(a["latency_s"] for a in considered) * hourly / 3600
        final = next((a["text"] for a in attempts if a["passed"]), attempts[-1]["text"])
        out.append(
            BriefOutcome(
                brief_id,
                len(considered),
                first is not None and first <= k,
                first,
                (first - 1) if first is not None and first <= k else k,
                cost,
                sum(a["latency_s"] for a in considered),
                final,
            )
        )
    return out


def summarize(run_dir: str | Path, catalog: Catalog | None = None) -> RunSummary:
    meta, by_brief = load_run(run_dir)
    k = int(meta["k"])
    rows = outcomes(meta, by_brief, catalog)
    if not rows:
        raise InputError(f"{run_dir} has no attempts yet", fix="run `adsft score` first")
    attempts = [a for group in by_brief.values() for a in group]
    fired: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for a in attempts:
        fired.update({v["rule"] for v in a["violations"]})
        categories.update({v["category"] for v in a["violations"]})
    evaluation = {
        b.id: (b, refs) for b, refs in load_eval(meta.get("eval_file") or data_dir() / "briefs" / "eval.jsonl")
    }
    slot_errors = []
    for brief_id, group in by_brief.items():
        brief = evaluation.get(brief_id, (None, None))[0]
        slots = max(1, len(brief.attributes)) if brief else 1
        slot_errors.append(sum(1 for v in group[0]["violations"] if v["category"] in SLOT_CATEGORIES) / slots)
    accepted = [r for r in rows if r.passed]
    latencies = [r.latency_s for r in accepted]
    costs = [r.cost_usd for r in rows if r.cost_usd is not None]
    unbiased = {}
    samples = meta.get("samples")
    if samples:
        for kk in range(1, min(int(samples), k) + 1):
            unbiased[f"pass@{kk}"] = round(
                float(np.mean([pass_at_k(len(g), sum(a["passed"] for a in g), kk) for g in by_brief.values()])), 4
            )
    # on the same messages for every run: each brief's final attempt, not only the accepted subset
    references = [evaluation[r.brief_id][1] for r in rows if r.brief_id in evaluation and evaluation[r.brief_id][1]]
    hypotheses = [r.final_text for r in rows if r.brief_id in evaluation and evaluation[r.brief_id][1]]
    seconds = sum(a["latency_s"] for a in attempts)
    return RunSummary(
        run=str(run_dir),
        label=meta.get("label") or meta["model"],
        provider=meta["provider"],
        model=meta["model"],
        mode=meta.get("mode", "resample"),
        briefs=len(rows),
        k=k,
        attempts=len(attempts),
        mean_regenerations=round(float(np.mean([r.regenerations for r in rows])), 4),
        failed_share=round(1 - len(accepted) / len(rows), 4),
        pass_at_1=round(sum(1 for r in rows if r.first_pass == 1) / len(rows), 4),
        pass_at_k=round(len(accepted) / len(rows), 4),
        pass_at_k_unbiased=unbiased,
        bad_outputs=dict(Counter(a["reason"].split(":")[0] for a in attempts if a["reason"])),
        rule_failure_rate={r: round(n / len(attempts), 4) for r, n in fired.most_common()},
        category_failure_rate={c: round(n / len(attempts), 4) for c, n in categories.most_common()},
        slot_error_rate=round(float(np.mean(slot_errors)), 4),
        cost_per_accepted_usd=round(sum(costs) / len(accepted), 6) if costs and accepted else None,
        cost_per_brief_usd=round(sum(costs) / len(rows), 8) if costs else None,
        latency_p50_s=round(float(np.percentile(latencies, 50)), 4) if latencies else None,
        latency_p95_s=round(float(np.percentile(latencies, 95)), 4) if latencies else None,
        throughput_msgs_per_s=round(len(attempts) / seconds, 2) if seconds else None,
        reference=reference_metrics(hypotheses, references) if hypotheses else {"count": 0},
    )
