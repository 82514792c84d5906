"""Terminal rendering with rich: highlighted violations, summary tables, errors with a tip."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from orchestrator.checking import CheckReport
from orchestrator.errors import AdsftError, InputError
from rules import CheckResult, RulePack

if TYPE_CHECKING:
    from orchestrator.synth import SynthSummary

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "suggestion": "cyan"}


def highlighted(result: CheckResult) -> Text:
    text = Text(result.text)
    for v in result.violations:
        if v.end > v.start and (v.end - v.start) < len(result.text):
            text.stylize(f"underline {LEVEL_STYLE[v.level]}", v.start, v.end)
    return text


def check_report(report: CheckReport, show_clean: bool = False) -> None:
    for item, result in report.results:
        if not result.violations and not show_clean:
            continue
        mark = Text("PASS", style="green") if result.passed else Text("FAIL", style="bold red")
        out.print(Text.assemble(mark, " ", (item.id, "bold"), " ", highlighted(result)))
        for v in result.violations:
            out.print(
                Text.assemble(
                    "    ", (f"{v.level:<10}", LEVEL_STYLE[v.level]), (f"{v.rule:<24}", "dim"), f" {v.message}"
                )
            )
    table = Table(title="Violations per rule (messages affected)")
    for col in ("rule", "category", "level", "messages"):
        table.add_column(col, justify="right" if col == "messages" else "left")
    for (rule, category, level), n in sorted(report.per_rule().items(), key=lambda kv: -kv[1]):
        table.add_row(rule, category, Text(level, style=LEVEL_STYLE[level]), str(n))
    if table.row_count:
        out.print(table)
    total = len(report.results)
    out.print(f"{total} message(s): {total - report.failed} passed, {report.failed} failed")


def rules_table(pack: RulePack) -> None:
    table = Table(title=f"Pack {pack.id} ({pack.language}) — {len(pack.checks)} rules")
    for col in ("id", "type", "category", "level", "scope", "channels"):
        table.add_column(col)
    for spec in pack.rules:
        table.add_row(
            spec.id,
            spec.type,
            spec.category,
            Text(spec.level, style=LEVEL_STYLE[spec.level]),  # type: ignore[attr-defined]
            spec.scope,
            ",".join(spec.channels or []) or "all",
        )
    out.print(table)


def error(exc: AdsftError) -> None:
    err.print(Text.assemble(("ERROR ", "bold red"), exc.message))
    if isinstance(exc, InputError):
        for p in exc.problems:
            err.print(Text("  " + str(p)))
    if exc.fix:
        err.print(Text.assemble(("TIP ", "bold cyan"), exc.fix))


@contextmanager
def progress() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr; yields update(stage, done, total)."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done)

    with bar:
        yield update


def synth_summary(summary: SynthSummary) -> None:
    table = Table(title="Synthetic examples")
    table.add_column("step")
    table.add_column("count", justify="right")
    for label, value in (
        ("briefs", summary.briefs),
        ("candidates", summary.candidates),
        ("passed every error rule", summary.passed),
        ("rejected", summary.rejected),
        ("exact duplicates removed", summary.exact_duplicates),
        ("near duplicates removed", summary.near_duplicates),
        ("after deduplication", summary.after_dedup),
        ("selected", summary.selected),
        ("train", summary.train),
        ("validation", summary.validation),
    ):
        table.add_row(label, str(value))
    out.print(table)
    rules = Table(title="Rejections per rule (candidates)")
    rules.add_column("rule")
    rules.add_column("rejected", justify="right")
    for rule, count in list(summary.rejected_by_rule.items())[:12]:
        rules.add_row(rule, str(count))
    out.print(rules)
    for t in summary.worst_templates:
        out.print(f"template {t['template']}: {t['rejected_share']:.0%} of {t['candidates']} candidates rejected")
    before, after = summary.diversity.get("before", {}), summary.diversity.get("after", {})
    out.print(
        f"diversity before → after selection: distinct-1 {before.get('distinct_1')} → {after.get('distinct_1')}, "
        f"distinct-2 {before.get('distinct_2')} → {after.get('distinct_2')}, "
        f"self-BLEU {before.get('self_bleu')} → {after.get('self_bleu')}"
    )
    c = summary.coverage
    out.print(
        f"coverage (distance to nearest selected; lower is better): mean {c.get('mean_distance')} "
        f"(random subset {c.get('random_mean_distance')}), radius {c.get('radius')} "
        f"(random {c.get('random_radius')})"
    )
    out.print("files: " + ", ".join(f"{k} {v}" for k, v in summary.files.items()))
