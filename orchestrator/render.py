"""Terminal rendering with rich: highlighted violations, summary tables, errors with a tip."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.checking import CheckReport
from rules import CheckResult, RulePack

if TYPE_CHECKING:
    import pandas as pd

    from orchestrator.compare import Comparison
    from orchestrator.estimate import Row
    from orchestrator.ledger import JobRow
    from orchestrator.pricing import Catalog
    from orchestrator.runs import RunSummary
    from orchestrator.synth import SynthSummary
    from orchestrator.validate import ValidationReport

# Piped output gets a wide console, so tables stay readable in logs and CI.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200)

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


def eval_table(scores: Any, show: bool) -> None:
    """Per-category precision / recall of a pack on labelled messages (rules.evaluate.Scores)."""
    data = scores.as_dict()
    table = Table(title="Rules on labelled messages")
    for col in ("category", "tp", "fp", "fn", "precision", "recall"):
        table.add_column(col, justify="left" if col == "category" else "right")

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    for row in data["categories"]:
        table.add_row(
            row["category"], str(row["tp"]), str(row["fp"]), str(row["fn"]), cell(row["precision"]), cell(row["recall"])
        )
    o = data["overall"]
    table.add_row("[bold]overall[/]", str(o["tp"]), str(o["fp"]), str(o["fn"]), cell(o["precision"]), cell(o["recall"]))
    out.print(table)
    out.print(
        f"{o['messages']} messages, {o['clean']} clean; clean messages blocked: {scores.clean_blocked}"
        f" ({cell(o['clean_blocked'])})"
    )
    if show:
        for m in scores.misjudged:
            out.print(f"{m['id']}: missed {m['missed']} extra {m['extra']} {m['violations']}", markup=False)


def error(exc: Exception) -> None:
    """An error of any package (orchestrator.errors.USER_ERRORS): ERROR, its problems, a TIP with the fix."""
    err.print(Text.assemble(("ERROR ", "bold red"), getattr(exc, "message", str(exc))))
    for p in getattr(exc, "problems", None) or []:
        err.print(Text("  " + str(p)))
    if getattr(exc, "fix", None):
        err.print(Text.assemble(("TIP ", "bold cyan"), exc.fix))


class _Lines:
    """Without a terminal (a log, CI), progress is a plain line on stderr every few seconds at most."""

    def __init__(self, every: float = 3.0) -> None:
        self.every = every
        self.last: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, line: str, final: bool = False) -> None:
        now = time.monotonic()
        self.started.setdefault(stage, now)
        if final or now - self.last.get(stage, -1e9) >= self.every:
            self.last[stage] = now
            err.print(Text(f"[{now - self.started[stage]:6.0f} s] {line}"), soft_wrap=True)


@contextmanager
def progress() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr (plain timed lines with ETA without a terminal); yields update(stage, done, total)."""
    if not err.is_terminal:
        lines = _Lines()

        def plain(stage: str, done: int, total: int) -> None:
            begun = lines.started.setdefault(stage, time.monotonic())
            elapsed = time.monotonic() - begun
            eta = elapsed / done * (total - done) if done else float("nan")
            lines(stage, f"{stage} {done}/{total}" + (f", ETA {eta:.0f} s" if done else ""), final=done >= total)

        yield plain
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

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
    for lang, figures in summary.diversity_by_language.items():
        mine, rand = figures["after"], figures["random"]
        out.print(
            f"{lang}: {mine['distinct_words']} distinct words, distinct-2 {mine['distinct_2']}, "
            f"self-BLEU {mine['self_bleu']} (random subset of the same size: {rand['distinct_words']} words, "
            f"distinct-2 {rand['distinct_2']}, self-BLEU {rand['self_bleu']})"
        )
    for lang, audit in summary.audit.items():
        out.print(
            f"{lang}: {audit['examples']} examples checked again: {audit['sanity_hits']} grammar-sanity hits, "
            f"{audit['numbers_not_in_brief']} numbers not in the brief, "
            f"{audit['required_missing']} required facts missing"
        )
    c = summary.coverage
    out.print(
        f"coverage (distance to nearest selected; lower is better): mean {c.get('mean_distance')} "
        f"(random subset {c.get('random_mean_distance')}), radius {c.get('radius')} "
        f"(random {c.get('random_radius')})"
    )
    if t := summary.teacher:
        out.print(
            f"teacher {t.teacher}: {t.received} replies ({t.from_cache} from the cache, {t.failed} failed), "
            f"{t.clean} clean after deduplication, {t.selected} selected; {t.tokens_in} prompt + {t.tokens_out} "
            f"reply tokens billed this run"
        )
    out.print("files: " + ", ".join(f"{k} {v}" for k, v in summary.files.items()))


def validation(report: ValidationReport) -> None:
    for f in report.files:
        line = f"{f.path}: {f.examples} examples ({f.format or 'unknown format'})"
        if report.model:
            line += f", {f.tokens:,} tokens for {report.model} (longest {f.max_tokens})"
        out.print(line)
    if report.issues:
        table = Table(title=f"{report.errors} error(s), {report.warnings} warning(s)")
        for col in ("file", "line", "level", "code", "problem"):
            table.add_column(col)
        for i in report.issues:
            table.add_row(i.file, str(i.line or ""), Text(i.level, style=LEVEL_STYLE[i.level]), i.code, i.message)
        out.print(table)
        hidden = sum(report.counts.values()) - len(report.issues)
        if hidden:
            out.print(f"(+{hidden} more of the same kinds; --json lists up to 200 per kind)")
    out.print("[green]OK[/]: ready to upload" if report.ok else "[bold red]NOT OK[/]: correct the errors above")


def estimate_frame(rows: list[Row]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([r.as_dict() for r in rows])


def estimate_table(rows: list[Row]) -> None:
    table = Table(title="Fine-tuning cost estimate (exact tokens)")
    for col in (
        "provider",
        "model",
        "examples",
        "train tok",
        "val tok",
        "epochs",
        "billed tok",
        "$/1M (as of)",
        "cost",
        "duration",
        "score 1k msgs",
    ):
        table.add_column(col, justify="left" if col in ("provider", "model") else "right")
    for r in rows:
        price = f"{r.price_per_1m:.2f} ({r.price_as_of})" if r.price_per_1m is not None else f"GPU ({r.price_as_of})"
        table.add_row(
            r.provider,
            r.model,
            f"{r.examples:,}",
            f"{r.train_tokens:,}",
            f"{r.val_tokens:,}",
            str(r.epochs),
            f"{r.billed_tokens:,}",
            price,
            f"${r.cost_usd:,.2f}",
            f"{r.duration_hours:.2f} h" if r.duration_hours is not None else "",
            f"${r.scoring_1000_usd:.3f}" if r.scoring_1000_usd is not None else "",
        )
    out.print(table)
    for r in rows:
        for note in r.notes:
            out.print(f"  {r.provider} {r.model}: {note}")


def providers_table(rows: list[dict]) -> None:
    table = Table(title="Providers (auto tries them by rank; one that needs a key only when it is set)")
    for col in ("provider", "auto rank", "default model", "formats", "billing", "key"):
        table.add_column(col)
    for row in rows:
        if not row["loadable"]:
            table.add_row(row["provider"], "", "[red]not loadable[/]", row["problem"], "", "")
            continue
        key = f"{row['key_env'][0]}: " + ("set" if row["key_set"] else "not set") if row["key_env"] else "none needed"
        rank = "" if row["auto_rank"] is None else str(row["auto_rank"])
        table.add_row(row["provider"], rank, row["default_model"], ", ".join(row["formats"]), row["billing"], key)
    out.print(table)


def prices_table(catalog: Catalog) -> None:
    from orchestrator.pricing import STALE_DAYS  # the price catalog is not loaded to print a check

    table = Table(title="Price catalog (" + ", ".join(catalog.files) + ")")
    for col in (
        "provider",
        "model / tier",
        "method",
        "train $/1M",
        "in $/1M",
        "out $/1M",
        "$/GPU-h",
        "as of",
        "source",
    ):
        table.add_column(col)
    stale = 0
    for p in catalog.prices:
        tier = p.model or (f"{p.size_min_b:g}–{p.size_max_b:g}B" if p.size_max_b else "any")
        age = p.age_days()
        stale += age > STALE_DAYS
        fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        table.add_row(
            p.provider,
            tier,
            p.method,
            fmt(p.training_per_1m),
            fmt(p.inference_input_per_1m),
            fmt(p.inference_output_per_1m),
            fmt(p.gpu_hour_usd),
            Text(str(p.as_of), style="yellow" if age > STALE_DAYS else ""),
            p.source,
        )
    out.print(table)
    if stale:
        err.print(
            Text.assemble(
                ("WARNING ", "bold yellow"),
                f"{stale} price(s) are older than {STALE_DAYS} days; check the sources and override with --prices FILE",
            )
        )


def jobs_table(rows: list[JobRow]) -> None:
    table = Table(title=f"{len(rows)} job(s)")
    for col in ("id", "provider", "remote id", "status", "model", "result", "estimate", "billed", "updated"):
        table.add_column(col)
    style = {"succeeded": "green", "failed": "bold red", "cancelled": "yellow"}
    for r in rows:
        p = r.public()
        table.add_row(
            r.id,
            r.provider,
            r.remote_id or "",
            Text(
                f"{r.status} ({r.raw_status})" if r.raw_status and r.raw_status != r.status else r.status,
                style=style.get(r.status, ""),
            ),
            r.model,
            r.result_model or r.artifact_path or "",
            f"${r.estimate_usd:.2f}" if r.estimate_usd else "",
            f"${r.billed_usd:.2f}" if r.billed_usd is not None else "",
            p["updated_at"] or "",
        )
    out.print(table)
    for r in rows:
        if r.error:
            out.print(Text.assemble((f"{r.id}: ", "bold"), (r.error, "red")))


def events_table(rows: list) -> None:
    table = Table(title="events")
    for col in ("time", "level", "message"):
        table.add_column(col)
    for e in rows:
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["created_at"])), e["level"], e["message"])
    out.print(table)


def submitted(result) -> None:
    """What `submit` did: the job, and the provider's own price estimate beside ours."""
    out.print(("existing job " if result.reused else "submitted ") + f"[bold]{result.job.id}[/]")
    jobs_table([result.job])
    if result.provider_estimate_usd is not None:
        out.print(
            f"{result.job.provider}'s own estimate: ${result.provider_estimate_usd:.2f} "
            f"(ours: ${result.job.estimate_usd or 0:.2f})"
        )


def job_cost(data: dict) -> None:
    billed = f"${data['billed_usd']:.2f}" if data["billed_usd"] is not None else "(not yet)"
    difference = f", difference ${data['difference_usd']:+.2f}" if data["difference_usd"] is not None else ""
    out.print(
        f"{data['id']} {data['provider']} {data['model']}: estimate ${data['estimate_usd'] or 0:.2f}, "
        f"billed {billed}{difference}"
    )


@contextmanager
def live_job() -> Iterator[Callable[[JobRow], None]]:
    """A live line on stderr: status, progress, latest loss, tokens/s, ETA (timed plain lines without a terminal)."""
    from rich.live import Live

    def line(job: JobRow) -> str:
        metrics = job.public()["metrics"]
        loss = metrics.get("loss") or metrics.get("train_loss")
        speed, eta = metrics.get("tokens_per_second"), metrics.get("eta_s")
        return (
            f"{job.id} {job.provider} {job.status}"
            + (f" {job.progress:.0%}" if job.progress is not None else "")
            + (f" loss {loss:.4f}" if loss is not None else "")
            + (f", {speed:.0f} tokens/s" if speed else "")
            + (f", ETA {eta:.0f} s" if eta is not None and job.status == "running" else "")
        )

    if not err.is_terminal:
        lines = _Lines()
        yield lambda job: lines("job", line(job))
        return
    with Live(Text("waiting for the provider..."), console=err, refresh_per_second=4, transient=True) as live:

        def update(job: JobRow) -> None:
            live.update(Text(line(job)))

        yield update


def run_summary(s: RunSummary) -> None:
    table = Table(title=f"{s.label}: {s.briefs} briefs, K={s.k} ({s.mode})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("mean regenerations", f"{s.mean_regenerations:.3f}"),
        ("failed at the cap", f"{s.failed_share:.1%}"),
        ("pass@1", f"{s.pass_at_1:.1%}"),
        ("pass@K", f"{s.pass_at_k:.1%}"),
        *((k, f"{v:.1%}") for k, v in s.pass_at_k_unbiased.items()),
        ("slot error rate", f"{s.slot_error_rate:.3f}"),
        ("attempts", str(s.attempts)),
        ("cost per accepted", f"${s.cost_per_accepted_usd:.5f}" if s.cost_per_accepted_usd is not None else "n/a"),
        (
            "latency p50 / p95",
            f"{s.latency_p50_s:.3f} / {s.latency_p95_s:.3f} s" if s.latency_p50_s is not None else "n/a",
        ),
    ]
    for k, v in s.reference.items():
        if isinstance(v, float | int) and k != "count":
            rows.append((k, f"{v:g}"))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    if s.category_failure_rate:
        out.print("failure rate per category: " + ", ".join(f"{c} {r:.0%}" for c, r in s.category_failure_rate.items()))
    if s.bad_outputs:
        out.print("bad outputs: " + ", ".join(f"{k} {v}" for k, v in s.bad_outputs.items()))


def _verdict_style(c: Comparison, verdict: str) -> str:
    return "green" if f"{c.b.label} better" in verdict else "red" if f"{c.a.label} better" in verdict else ""


def comparison(c: Comparison) -> None:
    table = Table(title=f"{c.a.label} (A) vs {c.b.label} (B), {c.paired_briefs} paired briefs")
    for col in ("metric", "A", "B", "B−A", "95% CI", "p", "verdict"):
        table.add_column(col, justify="left" if col in ("metric", "verdict") else "right")
    fmt = lambda v: "n/a" if v is None else f"{v:.4g}"  # noqa: E731
    for d in c.differences:
        ci = f"[{fmt(d.ci_low)}, {fmt(d.ci_high)}]" if d.ci_low is not None else ""
        style = _verdict_style(c, d.verdict)
        table.add_row(d.metric, fmt(d.a), fmt(d.b), fmt(d.difference), ci, fmt(d.p_value), Text(d.verdict, style=style))
    out.print(table)
    if c.rules:
        rules = Table(title="briefs whose first attempt broke each rule (B−A < 0: fixed)")
        for col in ("rule", "A", "B", "B−A", "95% CI", "verdict"):
            rules.add_column(col, justify="left" if col in ("rule", "verdict") else "right")
        for d in c.rules[:10]:
            style = _verdict_style(c, d.verdict)
            ci = f"[{fmt(d.ci_low)}, {fmt(d.ci_high)}]"
            rules.add_row(d.metric, f"{d.a:.0%}", f"{d.b:.0%}", fmt(d.difference), ci, Text(d.verdict, style=style))
        out.print(rules)
