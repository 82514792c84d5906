"""The evaluation commands: score (regeneration count) and compare (A/B with a report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli_help import PROVIDERS

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def score(
        provider: Annotated[
            str,
            typer.Option(help=f"Provider: {PROVIDERS}; an OpenAI-compatible server: the one with its base URL."),
        ],
        model: Annotated[
            str, typer.Option(help="Model id; on this machine a model folder or `tiny`, `BASE+ADAPTER` for an adapter.")
        ],
        k: Annotated[int, typer.Option("--k", help="Attempts per brief before giving up.")] = 5,
        mode: Annotated[str, typer.Option(help="resample or feedback.")] = "resample",
        eval_file: Annotated[str | None, typer.Option("--eval", help="Evaluation set (default: bundled).")] = None,
        run: Annotated[str | None, typer.Option(help="Run folder (resumes when it exists).")] = None,
        label: Annotated[str | None, typer.Option(help="Name shown in reports.")] = None,
        limit: Annotated[int | None, typer.Option(help="Only the first N briefs.")] = None,
        concurrency: Annotated[int, typer.Option(help="Requests in flight (remote providers).")] = 16,
        rpm: Annotated[float | None, typer.Option(help="Requests per minute limit.")] = None,
        tpm: Annotated[
            float | None, typer.Option(help="Tokens per minute limit (prompt estimate + max tokens).")
        ] = None,
        temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.8,
        samples: Annotated[int | None, typer.Option(help="Draw N samples per brief (unbiased pass@k).")] = None,
        seed: Annotated[int, typer.Option(help="Sampling seed (local).")] = 0,
        as_json: JsonFlag = False,
    ) -> None:
        """Score a model by how many regenerations its messages need to pass every rule."""
        from orchestrator import render
        from orchestrator.runs import summarize
        from orchestrator.score import ScoreConfig, default_run_dir, run_score

        run_dir = Path(run) if run else default_run_dir(label or f"{provider}-{model}")
        config = ScoreConfig(
            provider,
            model,
            run_dir,
            Path(eval_file) if eval_file else None,
            k,
            mode,
            temperature,
            concurrency=concurrency,
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
            limit=limit,
            seed=seed,
            label=label,
            samples=samples,
        )
        with render.progress() as update:
            run_score(config, update)
        summary = summarize(run_dir)
        if as_json:
            print(json.dumps(summary.as_dict(), ensure_ascii=False))
        else:
            render.run_summary(summary)

    @app.command("compare")
    def compare_cmd(
        run_a: Annotated[str, typer.Argument(help="Baseline run folder (A).")],
        run_b: Annotated[str, typer.Argument(help="Candidate run folder (B).")],
        out: Annotated[str | None, typer.Option(help="Folder for report.html, report.md, report.csv.")] = None,
        seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
        as_json: JsonFlag = False,
    ) -> None:
        """Compare two scoring runs paired by brief; write an HTML, Markdown and CSV report."""
        from orchestrator import render
        from orchestrator.compare import compare
        from orchestrator.report import write_report

        comparison = compare(run_a, run_b, seed)
        paths = write_report(comparison, Path(out) if out else Path(run_b) / "compare")
        if as_json:
            print(
                json.dumps(
                    {**comparison.as_dict(), "report": {k: str(v) for k, v in paths.items()}}, ensure_ascii=False
                )
            )
        else:
            render.comparison(comparison)
            render.out.print(f"report: {paths['html']}")
