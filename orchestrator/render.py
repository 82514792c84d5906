"""Terminal rendering with rich: highlighted violations, summary tables, errors with a tip."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.checking import CheckReport
from orchestrator.errors import AdsftError, InputError
from rules import CheckResult, RulePack

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
            out.print(Text.assemble("    ", (f"{v.level:<10}", LEVEL_STYLE[v.level]), (f"{v.rule:<24}", "dim"),
                                    f" {v.message}"))
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
        table.add_row(spec.id, spec.type, spec.category, Text(spec.level, style=LEVEL_STYLE[spec.level]),  # type: ignore[attr-defined]
                      spec.scope, ",".join(spec.channels or []) or "all")
    out.print(table)


def error(exc: AdsftError) -> None:
    err.print(Text.assemble(("ERROR ", "bold red"), exc.message))
    if isinstance(exc, InputError):
        for p in exc.problems:
            err.print(Text("  " + str(p)))
    if exc.fix:
        err.print(Text.assemble(("TIP ", "bold cyan"), exc.fix))
