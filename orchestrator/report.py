"""The comparison report: HTML (inline SVG charts, no scripts, works offline), Markdown and CSV."""

from __future__ import annotations

import html
import math
import time
from pathlib import Path

import jinja2
import pandas as pd

from orchestrator.compare import Comparison, Difference, distribution
from orchestrator.formats import atomic_write_lines

COLOURS = ("#5b8def", "#f29d38")
REF_KEYS = (
    "bleu",
    "chrf",
    "rouge1",
    "rouge2",
    "rougeL",
    "meteor_exact_stem",
    "cider_d",
    "distinct_1",
    "distinct_2",
    "self_bleu",
)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _bars(
    groups: list[str], series: list[tuple[str, list[float]]], width: int = 900, height: int = 260, percent: bool = False
) -> str:
    """Grouped vertical bars as SVG."""
    top = max([v for _, vals in series for v in vals] + [1e-9])
    left, bottom, plot_h = 40, 30, height - 50
    group_w = (width - left) / max(1, len(groups))
    bar_w = group_w * 0.8 / max(1, len(series))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for gi, group in enumerate(groups):
        x0 = left + gi * group_w + group_w * 0.1
        for si, (_, values) in enumerate(series):
            v = values[gi]
            h = plot_h * v / top
            x = x0 + si * bar_w
            label = f"{v:.0%}" if percent else f"{v:g}"
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[si % 2]}"><title>{html.escape(series[si][0])}: {label}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{height - 10}" font-size="11" text-anchor="middle">'
            f"{html.escape(group)}</text>"
        )
    for si, (name, _) in enumerate(series):
        parts.append(
            f'<rect x="{left + si * 220}" y="4" width="10" height="10" fill="{COLOURS[si % 2]}"/>'
            f'<text x="{left + 14 + si * 220}" y="13" font-size="12">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _hbars(labels: list[str], series: list[tuple[str, list[float]]], width: int = 900) -> str:
    row = 18 * len(series) + 8
    height = 30 + row * max(1, len(labels))
    top = max([v for _, vals in series for v in vals] + [1e-9])
    left = 230
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for si, (name, _) in enumerate(series):
        parts.append(
            f'<rect x="{left + si * 220}" y="4" width="10" height="10" fill="{COLOURS[si % 2]}"/>'
            f'<text x="{left + 14 + si * 220}" y="13" font-size="12">{html.escape(name)}</text>'
        )
    for li, label in enumerate(labels):
        y0 = 24 + li * row
        parts.append(
            f'<text x="{left - 6}" y="{y0 + row / 2:.0f}" font-size="11" text-anchor="end">{html.escape(label)}</text>'
        )
        for si, (_, values) in enumerate(series):
            w = (width - left - 60) * values[li] / top
            y = y0 + si * 18
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="15" fill="{COLOURS[si % 2]}"/>'
                f'<text x="{left + w + 4:.1f}" y="{y + 12}" font-size="11">{values[li]:.1%}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _scatter(points: list[tuple[str, float, float]], width: int = 600, height: int = 300) -> str:
    """(name, cost per brief in USD, pass@K) points; the axes start at zero."""
    max_x = max([p[1] for p in points] + [1e-12]) * 1.15
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<line x1="50" y1="{height - 40}" x2="{width - 20}" y2="{height - 40}" stroke="#999"/>',
        f'<line x1="50" y1="20" x2="50" y2="{height - 40}" stroke="#999"/>',
        f'<text x="{width / 2}" y="{height - 8}" font-size="12" text-anchor="middle">cost per brief (USD)</text>',
        f'<text x="14" y="{height / 2}" font-size="12" transform="rotate(-90 14 {height / 2})">pass@K</text>',
        f'<text x="46" y="{height - 44}" font-size="10" text-anchor="end">0</text>',
        '<text x="46" y="28" font-size="10" text-anchor="end">100%</text>',
        f'<text x="{width - 20}" y="{height - 26}" font-size="10" text-anchor="end">${max_x:.3g}</text>',
    ]
    for i, (name, cost, passed) in enumerate(points):
        x = 50 + (width - 90) * cost / max_x
        y = height - 40 - (height - 70) * passed
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{COLOURS[i % 2]}"><title>{html.escape(name)}: '
            f"${cost:.6f} per brief, pass@K {passed:.0%}</title></circle>"
            f'<text x="{x + 10:.1f}" y="{y + 4:.1f}" font-size="12">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _row(metric: str, d: Difference) -> dict:
    return {
        "metric": metric,
        "a": d.a,
        "b": d.b,
        "difference_b_minus_a": d.difference,
        "ci_low": d.ci_low,
        "ci_high": d.ci_high,
        "p_value": d.p_value,
        "verdict": d.verdict,
    }


def frame(comparison: Comparison) -> pd.DataFrame:
    """The comparison's table: each metric, then each rule (share of briefs whose first attempt broke it)."""
    rows = [_row(d.metric, d) for d in comparison.differences]
    return pd.DataFrame(rows + [_row(f"first attempt broke {d.metric}", d) for d in comparison.rules])


def write_report(
    comparison: Comparison, folder: Path, summary: str | None = None, examples: list[dict] | None = None
) -> dict[str, Path]:
    """report.html / .md / .csv; `summary` (a verdict sentence) leads the page, `examples` pairs messages."""
    a, b = comparison.a, comparison.b
    k = a.k
    dist_a, dist_b = distribution(a.run), distribution(b.run)
    groups = [str(i) for i in range(k)] + [f"{k} (failed)"]
    regen_svg = _bars(
        groups,
        [(a.label, [dist_a.get(i, 0) for i in range(k + 1)]), (b.label, [dist_b.get(i, 0) for i in range(k + 1)])],
    )
    rules = sorted(
        set(a.rule_failure_rate) | set(b.rule_failure_rate),
        key=lambda r: -(a.rule_failure_rate.get(r, 0) + b.rule_failure_rate.get(r, 0)),
    )[:12]
    rules_svg = _hbars(
        rules,
        [
            (a.label, [a.rule_failure_rate.get(r, 0) for r in rules]),
            (b.label, [b.rule_failure_rate.get(r, 0) for r in rules]),
        ],
    )
    priced = [s for s in (a, b) if s.cost_per_brief_usd is not None]  # only real points: unpriced runs are left out
    cost_svg = _scatter([(s.label, s.cost_per_brief_usd, s.pass_at_k) for s in priced]) if priced else ""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    page = env.get_template("report.html.j2").render(
        a=a,
        b=b,
        paired=comparison.paired_briefs,
        differences=comparison.differences,
        rule_differences=comparison.rules[:15],
        unpriced=[s.label for s in (a, b) if s.cost_per_brief_usd is None],
        regen_svg=regen_svg,
        rules_svg=rules_svg,
        cost_svg=cost_svg,
        ref_keys=REF_KEYS,
        fmt=_fmt,
        pct=lambda v: f"{v:.0%}",
        generated=time.strftime("%Y-%m-%d %H:%M"),
        summary=summary,
        examples=examples or [],
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"html": folder / "report.html", "markdown": folder / "report.md", "csv": folder / "report.csv"}
    atomic_write_lines(paths["html"], [page])
    table = frame(comparison)
    header = f"# {a.label} vs {b.label}\n\n{comparison.paired_briefs} paired briefs, K={k}.\n"
    try:
        markdown = table.to_markdown(index=False)
    except ImportError:
        markdown = table.to_string(index=False)
    atomic_write_lines(paths["markdown"], [header, markdown])
    atomic_write_lines(paths["csv"], [table.to_csv(index=False).rstrip("\n")])
    return paths
