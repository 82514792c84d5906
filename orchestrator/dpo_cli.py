"""The preference-tuning commands: pairs (DPO data from scoring runs) and improve (SFT -> DPO, measured)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli_help import PROVIDERS

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _pairs_table(summary) -> None:
    from rich.table import Table

    from orchestrator import render

    render.out.print(
        f"{summary.pairs} pairs from {summary.briefs_with_pairs} of {summary.briefs} briefs "
        f"({summary.train} train / {summary.validation} validation, briefs kept apart); "
        f"{summary.from_attempts} prefer a passing attempt, {summary.from_synthetic} a clean example "
        f"(no attempt passed); {summary.duplicates} duplicates dropped"
    )
    if summary.briefs_without_failure or summary.briefs_without_clean:
        render.out.print(
            f"skipped: {summary.briefs_without_failure} brief(s) that never failed, "
            f"{summary.briefs_without_clean} that never passed and have no clean example"
        )
    table = Table("rule broken by the rejected message", "pairs")
    for rule, count in summary.per_rule.items():
        table.add_row(rule, str(count))
    render.out.print(table)
    for split, path in summary.files.items():
        render.out.print(f"{split}: {path}")


def pairs(
    runs: Annotated[list[str], typer.Argument(help="Scoring run folders (written by `adsft score`).")],
    out: Annotated[str, typer.Option("--out", "-o", help="Training pairs JSONL (validation pairs beside it).")],
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Only failures that broke this rule (repeatable).")
    ] = None,
    max_per_prompt: Annotated[int, typer.Option(help="At most this many pairs per brief.")] = 2,
    val_fraction: Annotated[float, typer.Option(help="Share of briefs whose pairs go to validation.")] = 0.1,
    val_out: Annotated[str | None, typer.Option(help="Validation pairs file (default: OUT.val.jsonl).")] = None,
    synthetic: Annotated[
        str | None, typer.Option(help="A synth folder: clean examples for briefs where no attempt passed.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the brief split.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Preference (DPO) pairs from scoring runs: a passing attempt against a failing one, per brief."""
    from orchestrator.pairs import PairsConfig, make_pairs

    summary = make_pairs(
        PairsConfig(
            [Path(r) for r in runs],
            Path(out),
            Path(val_out) if val_out else None,
            tuple(rule or ()),
            max_per_prompt,
            val_fraction,
            Path(synthetic) if synthetic else None,
            seed,
        )
    )
    if as_json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        _pairs_table(summary)


def improve(
    model: Annotated[
        str, typer.Option(help="The model to tune (`smollm2`, a model folder, a provider's id).")
    ] = "smollm2",
    provider: Annotated[
        str | None, typer.Option(help=f"Provider: {PROVIDERS}; trains and scores (default: the offline one).")
    ] = None,
    folder: Annotated[str | None, typer.Option(help="Work folder (default: ADSFT_HOME/improve/MODEL).")] = None,
    language: Annotated[str, typer.Option(help="Language of the training and evaluation briefs.")] = "en",
    examples: Annotated[int, typer.Option(help="Clean synthetic SFT examples.")] = 64,
    mine_briefs: Annotated[int, typer.Option(help="Training briefs scored to mine preference pairs.")] = 40,
    samples: Annotated[int, typer.Option(help="Samples per mining brief (passing and failing ones).")] = 4,
    briefs: Annotated[int, typer.Option(help="Held-out evaluation briefs.")] = 20,
    k: Annotated[int, typer.Option("--k", help="Regeneration cap K when scoring.")] = 3,
    beta: Annotated[float, typer.Option(help="DPO beta.")] = 0.1,
    max_per_prompt: Annotated[int, typer.Option(help="Pairs per mining brief at most.")] = 2,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Only pairs against this rule.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every step.")] = 0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Train on a provider that bills per token.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """SFT job -> score -> pairs -> DPO job -> score -> compare, as one command that continues where it stopped."""
    from orchestrator import render
    from orchestrator.improve import ImproveConfig, run_improve

    config = ImproveConfig(
        model=model,
        provider=provider,
        folder=Path(folder) if folder else None,
        language=language,
        examples=examples,
        mine_briefs=mine_briefs,
        samples=samples,
        briefs=briefs,
        k=k,
        beta=beta,
        max_per_prompt=max_per_prompt,
        rules=tuple(rule or ()),
        seed=seed,
        yes=yes,
    )
    result = run_improve(config)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    render.out.rule("improve: SFT against SFT+DPO")
    for name, step in result["steps"].items():
        render.out.print(f"  {name:<10} {step}")
    per_rule = ", ".join(f"{rule} {n}" for rule, n in list(result["pairs_per_rule"].items())[:8])
    render.out.print(f"pairs per rule broken: {per_rule}")
    render.out.print(result["verdict"])
    render.out.print(f"report: {result['report']}")


def register(app: typer.Typer) -> None:
    app.command("pairs")(pairs)
    app.command("improve")(improve)
