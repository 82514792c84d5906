"""`adsft compare`: runs paired by brief, differences with 95% bootstrap confidence intervals and a
paired sign-flip permutation test, and a verdict per metric."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from orchestrator.errors import InputError
from orchestrator.runs import BriefOutcome, RunSummary, load_run, outcomes, summarize


@dataclass
class Difference:
    metric: str
    a: float | None
    b: float | None
    difference: float | None  # b - a
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    better: str  # "lower" or "higher"
    verdict: str


@dataclass
class Comparison:
    a: RunSummary
    b: RunSummary
    paired_briefs: int
    differences: list[Difference]
    rules: list[Difference] = field(default_factory=list)  # per rule: briefs whose first attempt broke it

    def as_dict(self) -> dict:
        return {
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
            "paired_briefs": self.paired_briefs,
            "differences": [asdict(d) for d in self.differences],
            "rules": [asdict(d) for d in self.rules],
        }


def _bootstrap(a: np.ndarray, b: np.ndarray, stat, rng: np.random.Generator, n: int = 2000) -> tuple[float, float]:
    idx = rng.integers(0, len(a), size=(n, len(a)))
    values = np.array([stat(a[i], b[i]) for i in idx])
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def _sign_flip(d: np.ndarray, rng: np.random.Generator, n: int = 5000) -> float:
    """Two-sided paired permutation test of mean(d) = 0 (random sign flips of the paired differences)."""
    if not np.any(d):
        return 1.0
    observed = abs(d.mean())
    flips = rng.choice([-1.0, 1.0], size=(n, len(d)))
    return float((np.abs((flips * d).mean(axis=1)) >= observed - 1e-12).mean())


def _verdict(diff: float, low: float, high: float, p: float | None, better: str, names: tuple[str, str]) -> str:
    """A winner only when the 95% CI excludes 0 and, where there is one, the permutation test agrees
    (p < 0.05): with few briefs a percentile bootstrap alone is too eager."""
    if not np.isfinite(low) or (low <= 0 <= high):
        return "no significant difference"
    if p is not None and p >= 0.05:
        return f"no significant difference (p={p:.3g})"
    improved = (diff < 0) if better == "lower" else (diff > 0)
    winner = names[1] if improved else names[0]
    return f"{winner} better" + (f" (p={p:.3g})" if p is not None else "")


def comparable(meta_a: dict, meta_b: dict, briefs_a: set[str], briefs_b: set[str]) -> None:
    """Refuse runs that measured different things, naming each difference."""
    problems = [
        f"{key}: {meta_a.get(key)!r} vs {meta_b.get(key)!r}"
        for key in ("k", "mode", "temperature", "samples")
        if meta_a.get(key) != meta_b.get(key)
    ]
    if briefs_a != briefs_b:
        only_a, only_b = sorted(briefs_a - briefs_b), sorted(briefs_b - briefs_a)
        shown_a, shown_b = ", ".join(only_a[:3]), ", ".join(only_b[:3])
        problems.append(f"briefs: {len(only_a)} only in A ({shown_a}), {len(only_b)} only in B ({shown_b})")
    if problems:
        raise InputError(
            "the runs are not comparable: " + "; ".join(problems),
            fix="score both models with the same briefs, --k, --mode and --temperature",
        )


def compare(run_a: str | Path, run_b: str | Path, seed: int = 0) -> Comparison:
    rng = np.random.default_rng(seed)
    sa, sb = summarize(run_a), summarize(run_b)
    meta_a, by_a = load_run(run_a)
    meta_b, by_b = load_run(run_b)
    comparable(meta_a, meta_b, set(by_a), set(by_b))
    oa = {o.brief_id: o for o in outcomes(meta_a, by_a)}
    ob = {o.brief_id: o for o in outcomes(meta_b, by_b)}
    common = sorted(set(oa) & set(ob))
    if len(common) < 2:
        raise InputError("the runs share fewer than 2 briefs", fix="score both models on the same evaluation set")
    A: list[BriefOutcome] = [oa[i] for i in common]
    B: list[BriefOutcome] = [ob[i] for i in common]
    names = (sa.label, sb.label)
    diffs = []
    regen_a = np.array([o.regenerations for o in A], float)
    regen_b = np.array([o.regenerations for o in B], float)
    pass_a = np.array([o.first_pass == 1 for o in A], float)
    pass_b = np.array([o.first_pass == 1 for o in B], float)
    for metric, xa, xb, better in (
        ("mean regenerations", regen_a, regen_b, "lower"),
        ("pass@1", pass_a, pass_b, "higher"),
    ):
        diffs.append(_paired(metric, xa, xb, better, names, rng))
    if all(o.cost_usd is not None for o in A + B):
        ca = np.array([o.cost_usd for o in A])
        cb = np.array([o.cost_usd for o in B])
        acc_a = np.array([o.passed for o in A], float)
        acc_b = np.array([o.passed for o in B], float)
        data_a, data_b = np.stack([ca, acc_a], 1), np.stack([cb, acc_b], 1)

        def per_accepted(x: np.ndarray) -> float:
            return float(x[:, 0].sum() / x[:, 1].sum()) if x[:, 1].sum() else float("nan")

        value_a, value_b = per_accepted(data_a), per_accepted(data_b)
        low, high = _bootstrap(data_a, data_b, lambda a, b: per_accepted(b) - per_accepted(a), rng)
        none_accepted = [name for name, v in zip(names, (value_a, value_b), strict=True) if not np.isfinite(v)]
        verdict = _verdict(value_b - value_a, low, high, None, "lower", names)
        if none_accepted:
            verdict = f"unbounded for {' and '.join(none_accepted)}: no message accepted"
        diffs.append(
            Difference(
                "cost per accepted message (USD)",
                value_a,
                value_b,
                value_b - value_a,
                low,
                high,
                None,
                "lower",
                verdict,
            )
        )
    else:
        diffs.append(
            Difference(
                "cost per accepted message (USD)",
                sa.cost_per_accepted_usd,
                sb.cost_per_accepted_usd,
                None,
                None,
                None,
                None,
                "lower",
                "not priced (local or unknown model)",
            )
        )
    return Comparison(sa, sb, len(common), diffs, _rule_differences(by_a, by_b, common, names, rng))


def _paired(
    metric: str, xa: np.ndarray, xb: np.ndarray, better: str, names: tuple[str, str], rng: np.random.Generator
) -> Difference:
    """The mean paired difference B - A with its bootstrap CI, permutation p and verdict."""
    d = xb - xa
    low, high = _bootstrap(xa, xb, lambda a, b: (b - a).mean(), rng)
    p = _sign_flip(d, rng)
    mean = float(d.mean())
    verdict = _verdict(mean, low, high, p, better, names)
    return Difference(metric, float(xa.mean()), float(xb.mean()), mean, low, high, p, better, verdict)


def _first_rules(attempts: list[dict]) -> set[str]:
    first = min(attempts, key=lambda a: a["attempt"])
    return {v["rule"] for v in first["violations"] if v.get("level", "error") == "error"}


def _rule_differences(
    by_a: dict[str, list[dict]],
    by_b: dict[str, list[dict]],
    common: list[str],
    names: tuple[str, str],
    rng: np.random.Generator,
) -> list[Difference]:
    """Which rules the change fixed or broke: per rule, the share of briefs whose first attempt broke it
    (one fair sample per brief and model), paired by brief, most frequent first."""
    first_a = [_first_rules(by_a[b]) for b in common]
    first_b = [_first_rules(by_b[b]) for b in common]
    fired = {r for rules in first_a + first_b for r in rules}
    out = []
    for rule in fired:
        xa = np.array([rule in rules for rules in first_a], float)
        xb = np.array([rule in rules for rules in first_b], float)
        out.append(_paired(rule, xa, xb, "lower", names, rng))
    return sorted(out, key=lambda d: (-(d.a or 0) - (d.b or 0), d.metric))


def distribution(summary_run: str | Path) -> dict[int, int]:
    meta, by = load_run(summary_run)
    counts: dict[int, int] = {}
    for o in outcomes(meta, by):
        counts[o.regenerations] = counts.get(o.regenerations, 0) + 1
    return counts
