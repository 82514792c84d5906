"""The `adsft` command line. Thin: parse, call one library function, render (rich or --json).

Data goes to stdout, progress and errors to stderr. Exit codes are decided here, in `main`:
0 ok, 1 failure (or a message that fails its rules), 2 bad input. ADSFT_DEBUG=1 shows tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import click
import typer

from orchestrator.cli_help import FORMATS, PROVIDERS
from orchestrator.errors import USER_ERRORS

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Fine-tune language models to write ad messages with fewer errors, and prove it.",
)
rules_app = typer.Typer(no_args_is_help=True, help="List, show and test rule packs.")
app.add_typer(rules_app, name="rules")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
PackArg = Annotated[str, typer.Argument(help="Pack name or file.")]
PackOpt = Annotated[str, typer.Option("--pack", "-p", help="Built-in pack (ru, en) or a YAML pack file.")]


@app.command()
def check(
    source: Annotated[str, typer.Argument(help="JSONL or CSV file of messages, or - for stdin.")],
    pack: Annotated[
        str,
        typer.Option(
            "--pack", "-p", help="auto (the brief's or the text's language), a built-in pack (ru, en) or a YAML file."
        ),
    ] = "auto",
    briefs: Annotated[str | None, typer.Option(help="Briefs (JSONL/YAML) for `brief_id` lookups.")] = None,
    show_clean: Annotated[bool, typer.Option(help="Also print messages with no violation.")] = False,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes to check with (default: the cores available).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check ad messages against a rule pack; exit 1 when any message has an error-level violation."""
    from orchestrator.briefs import load_briefs
    from orchestrator.checking import CheckReport, PackChooser, read_messages
    from orchestrator.parallel_check import check_stream, json_stream, workers_for
    from rules import load_pack

    chooser = PackChooser(pack, load_pack)
    items = read_messages(source, load_briefs(briefs) if briefs else None)
    processes = workers_for(workers, len(items))
    if as_json:  # one line per message as soon as it is checked, in input order
        failed = 0
        for line, passed in json_stream(chooser, items, processes):
            print(line)
            failed += not passed
    else:
        from orchestrator import render

        report = CheckReport(list(check_stream(chooser, items, processes)))
        render.check_report(report, show_clean)
        failed = report.failed
    if failed:
        raise typer.Exit(1)


@app.command()
def synth(
    out: Annotated[
        str, typer.Option("--out", "-o", help="Folder for train.jsonl, val.jsonl and metadata.")
    ] = "adsft-data",
    briefs: Annotated[str | None, typer.Option(help="Briefs file (default: the bundled catalog).")] = None,
    n: Annotated[int, typer.Option("--n", help="How many examples to select.")] = 2500,
    fmt: Annotated[str, typer.Option("--format", help=f"The examples' format: {FORMATS}.")] = "chat",
    language: Annotated[str, typer.Option(help="Comma-separated languages.")] = "ru,en",
    variants: Annotated[int, typer.Option(help="Wordings per template and brief.")] = 8,
    near_threshold: Annotated[float, typer.Option(help="Jaccard similarity that counts as a near duplicate.")] = 0.8,
    reject_warnings: Annotated[bool, typer.Option(help="Also reject messages with warning-level violations.")] = False,
    val_fraction: Annotated[float, typer.Option(help="Share of examples (whole briefs) for validation.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 0,
    workers: Annotated[
        int | None, typer.Option(help="Processes that render and check (default: the cores available).")
    ] = None,
    teacher: Annotated[
        str | None, typer.Option(help="PROVIDER:MODEL that writes a share of the examples (any OpenAI-compatible).")
    ] = None,
    teacher_provider: Annotated[
        str | None, typer.Option("--provider", help=f"The teacher's provider when --teacher names none: {PROVIDERS}.")
    ] = None,
    teacher_k: Annotated[int, typer.Option(help="Teacher samples per brief.")] = 4,
    teacher_share: Annotated[float, typer.Option(help="Share of the selected examples from the teacher.")] = 0.5,
    teacher_max_tokens: Annotated[int, typer.Option(help="Longest teacher reply, in tokens.")] = 200,
    teacher_concurrency: Annotated[int, typer.Option(help="Teacher requests at once.")] = 16,
    prices: Annotated[str | None, typer.Option(help="Price file for the teacher's estimate.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before the teacher's requests.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Generate clean synthetic training examples from briefs: check, deduplicate, select, split, export."""
    from pathlib import Path

    from orchestrator import render
    from orchestrator.synth import SynthConfig, synthesize
    from orchestrator.teacher import Teacher, confirmer, parse_teacher

    taught = None
    if teacher:
        name, model = parse_teacher(teacher, teacher_provider)
        taught = Teacher(name, model, teacher_k, teacher_share, teacher_max_tokens, concurrency=teacher_concurrency)
    config = SynthConfig(
        out=Path(out),
        briefs=Path(briefs) if briefs else None,
        n=n,
        fmt=fmt,
        languages=tuple(x.strip() for x in language.split(",") if x.strip()),
        variants=variants,
        near_threshold=near_threshold,
        reject_warnings=reject_warnings,
        val_fraction=val_fraction,
        seed=seed,
        workers=workers,
        teacher=taught,
        prices=prices,
    )
    with render.progress() as update:
        summary = synthesize(config, update, confirmer(yes, render.err.print))
    if as_json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        render.synth_summary(summary)


@app.command("validate")
def validate_cmd(
    train: Annotated[str, typer.Argument(help="Training JSONL file.")],
    val: Annotated[str | None, typer.Option(help="Validation JSONL file (checked too, and for overlap).")] = None,
    provider: Annotated[str | None, typer.Option(help=f"Provider: {PROVIDERS}; default: the first of auto.")] = None,
    model: Annotated[str | None, typer.Option(help="Model whose tokenizer and limit to check against.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Report every problem of a training file, with line numbers; exit 2 when there are errors."""
    from orchestrator import render
    from orchestrator.validate import validate

    report = validate(train, provider, model, val)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        render.validation(report)
    if not report.ok:
        raise typer.Exit(2)


@app.command("estimate")
def estimate_cmd(
    train: Annotated[str, typer.Argument(help="Training JSONL file.")],
    val: Annotated[str | None, typer.Option(help="Validation JSONL file.")] = None,
    provider: Annotated[
        str | None, typer.Option(help=f"Providers, comma-separated, each {PROVIDERS}; default: those of auto.")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Model id (repeatable; `provider:model` to be explicit).")
    ] = None,
    epochs: Annotated[str, typer.Option(help="auto or a number.")] = "auto",
    n_evals: Annotated[int, typer.Option(help="Evaluations over the validation file (where they are billed).")] = 0,
    method: Annotated[
        str, typer.Option(help="lora, full or dpo (the price tier, where a provider prices by method).")
    ] = "lora",
    prices: Annotated[str | None, typer.Option(help="Your price file (overrides the built-in catalog).")] = None,
    local_tokens_per_second: Annotated[float | None, typer.Option(help="Measured local training throughput.")] = None,
    gpu_hour_usd: Annotated[float | None, typer.Option(help="Local GPU price per hour.")] = None,
    max_cost: Annotated[
        float | None, typer.Option(help="Refuse (exit 2) when an estimate is above this, in USD.")
    ] = None,
    as_json: JsonFlag = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
) -> None:
    """Estimate the cost of fine-tuning on each provider, from exact token counts, before paying."""
    import providers
    from orchestrator import render
    from orchestrator.errors import InputError
    from orchestrator.estimate import estimate
    from orchestrator.pricing import load_catalog

    if epochs != "auto" and not (epochs.isdigit() and int(epochs) >= 1):
        raise InputError(f"--epochs must be `auto` or a whole number of at least 1, not {epochs!r}")
    rows = estimate(
        train,
        val,
        [p.strip() for p in provider.split(",") if p.strip()] if provider else providers.ranked(),
        model or [],
        load_catalog(prices),
        epochs if epochs == "auto" else int(epochs),
        n_evals,
        method,
        local_tokens_per_second,
        gpu_hour_usd,
        max_cost,
    )
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
    elif as_csv:
        render.estimate_frame(rows).to_csv(sys.stdout, index=False)
    else:
        render.estimate_table(rows)


@app.command("prices")
def prices_cmd(
    prices: Annotated[str | None, typer.Option(help="Your price file, shown with the built-in catalog.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the price catalog with sources and dates; warn about prices older than 180 days."""
    from orchestrator import render
    from orchestrator.pricing import load_catalog

    catalog = load_catalog(prices)
    if as_json:
        print(json.dumps([p.model_dump(mode="json") for p in catalog.prices], ensure_ascii=False))
    else:
        render.prices_table(catalog)


@app.command("providers")
def providers_cmd(as_json: JsonFlag = False) -> None:
    """List the installed providers: the formats each trains on, its default model, the key it reads."""
    from orchestrator import render
    from orchestrator.formats import provider_formats
    from providers import capabilities, facts, provider_names
    from providers.errors import ProviderError
    from providers.keys import get_key

    rows: list[dict] = []
    for name in provider_names():
        try:
            fact, able = facts(name), capabilities(name)
        except ProviderError as exc:  # installed but not loadable: said, not fatal
            rows.append({"provider": name, "loadable": False, "problem": exc.message})
            continue
        rows.append(
            {
                "provider": name,
                "loadable": True,
                "offline": able.offline,
                "auto_rank": fact.auto_rank,
                "default_model": fact.default_model,
                "formats": list(provider_formats(name)),
                "billing": fact.billing,
                "key_env": list(fact.key_env),
                "key_set": bool(get_key(name)) if fact.key_env else None,
            }
        )
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        render.providers_table(rows)


@app.command()
def demo(
    as_json: JsonFlag = False,
    model: Annotated[str, typer.Option(help="The student: `smollm2` (SmolLM2-135M-Instruct), a folder.")] = "smollm2",
    language: Annotated[str, typer.Option(help="en (the student is English-first) or ru.")] = "en",
    examples: Annotated[int, typer.Option(help="Clean synthetic training examples.")] = 64,
    briefs: Annotated[int, typer.Option(help="Held-out evaluation briefs of that language.")] = 20,
    k: Annotated[int, typer.Option(help="Regeneration cap K.")] = 3,
    usable: Annotated[float, typer.Option(help="pass@K below this: the report says the model is not usable.")] = 0.5,
) -> None:
    """Run the pipeline end to end on a real pretrained model (bundled data, local backend, no keys, offline)."""
    from orchestrator import render
    from orchestrator.demo import DemoConfig, run_demo

    summary = run_demo(DemoConfig(model=model, language=language, examples=examples, briefs=briefs, k=k, usable=usable))
    render.out.rule("demo summary")
    for step, outcome in summary.steps:
        render.out.print(f"  {step:<14} {outcome}")
    render.out.print(f"files: {summary.folder}")
    if summary.report:
        render.out.print(f"report: {summary.report}")
    if as_json:
        keys = ("model", "report", "base", "tuned", "difference", "savings_per_1000_usd", "seconds")
        print(json.dumps({**{k: summary.result.get(k) for k in keys}, **summary.result}, ensure_ascii=False))


@rules_app.command("list")
def rules_list(pack: PackArg = "ru", as_json: JsonFlag = False) -> None:
    """List the rules of a pack."""
    from orchestrator import render
    from rules import load_pack

    rule_pack = load_pack(pack)
    if as_json:
        print(
            json.dumps(
                [s.model_dump(exclude={"examples"}, exclude_none=True) for s in rule_pack.rules],
                ensure_ascii=False,
                indent=1,
            )
        )
    else:
        render.rules_table(rule_pack)


@rules_app.command("show")
def rules_show(rule_id: str, pack: PackOpt = "", as_json: JsonFlag = False) -> None:
    """Show one rule in full (the pack is guessed from the id prefix when not given)."""
    from orchestrator import render
    from orchestrator.errors import InputError
    from rules import load_pack

    rule_pack = load_pack(pack or rule_id.split(".")[0])
    try:
        spec = rule_pack.rule(rule_id)
    except KeyError:
        raise InputError(
            f"no rule {rule_id!r} in pack {rule_pack.id}", fix=f"see `adsft rules list {rule_pack.id}`"
        ) from None
    data = spec.model_dump(exclude_none=True)
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        import yaml

        render.out.print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@rules_app.command("test")
def rules_test(pack: PackArg = "ru", as_json: JsonFlag = False) -> None:
    """Run every rule's examples (match / no_match); exit 1 if any fails."""
    from orchestrator import render
    from rules import load_pack

    rule_pack = load_pack(pack)
    ran, failures = rule_pack.test_examples()
    if as_json:
        print(
            json.dumps(
                {
                    "pack": rule_pack.id,
                    "examples": ran,
                    "failed": [
                        {"rule": f.rule, "expected_match": f.expected_match, "example": f.example} for f in failures
                    ],
                },
                ensure_ascii=False,
            )
        )
    else:
        for f in failures:
            want = "should match" if f.expected_match else "should not match"
            render.out.print(f"[bold red]FAIL[/] {f.rule}: {want}: {f.example!r}")
        render.out.print(f"{rule_pack.id}: {ran} examples, {len(failures)} failed")
    if failures:
        raise typer.Exit(1)


@rules_app.command("eval")
def rules_eval(
    files: Annotated[list[str], typer.Argument(help="Labelled JSONL files (`expected`: the categories broken).")],
    pack: Annotated[str, typer.Option("--pack", "-p", help="auto (each record's language), or a pack.")] = "auto",
    show: Annotated[bool, typer.Option("--show", help="Also list every misjudged message.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Precision and recall per category, and the share of clean messages blocked, on labelled messages."""
    from orchestrator import render
    from orchestrator.checking import read_labelled
    from rules import load_pack
    from rules.evaluate import evaluate

    records = read_labelled(files)
    packs: dict[str, object] = {}

    def pack_for(language: str):
        key = language if pack == "auto" else pack
        if key not in packs:
            packs[key] = load_pack(key)
        return packs[key]

    scores = evaluate(records, pack_for)
    if as_json:
        print(json.dumps({**scores.as_dict(), "misjudged": scores.misjudged if show else None}, ensure_ascii=False))
    else:
        render.eval_table(scores, show)


def _register_job_commands() -> None:
    from orchestrator import dpo_cli, eval_cli, jobs_cli

    jobs_cli.register(app)
    eval_cli.register(app)
    dpo_cli.register(app)


_register_job_commands()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"adsft {version('adsft')}")
        except PackageNotFoundError:
            print("adsft (not installed)")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """Fine-tune language models to write ad messages with fewer errors, and prove it."""


def _usage(exc: Exception) -> int:
    """A usage error (no arguments, a missing argument, an unknown option, a bare group): the usage line,
    the error, exit 2. No traceback."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        print(f"{ctx.get_usage()}\nTry '{ctx.command_path} --help' for help.\n", file=sys.stderr)
        print("Error: Missing command.", file=sys.stderr)
        return 2
    show = getattr(exc, "show", None)
    if show is not None:
        show(file=sys.stderr)
    else:
        print(f"Error: {exc}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error of every command becomes its exit code here, and only here."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="adsft", standalone_mode=False)
    except USER_ERRORS as exc:  # every package's errors (see orchestrator.errors), mapped here only
        if os.environ.get("ADSFT_DEBUG"):
            raise
        from orchestrator import render

        render.error(exc)
        return exc.exit_code
    except (click.exceptions.Exit, typer.Exit) as exc:
        return exc.exit_code
    except (click.exceptions.Abort, typer.Abort):
        print("Aborted.", file=sys.stderr)
        return 1
    except (click.ClickException, typer.TyperException) as exc:
        if os.environ.get("ADSFT_DEBUG"):
            raise
        return _usage(exc)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `adsft ... | head`
        return 0
    except Exception as exc:  # a bug or an unforeseen failure: a message, not a traceback
        if os.environ.get("ADSFT_DEBUG"):
            raise
        from orchestrator import render
        from orchestrator.errors import AdsftError, InputError

        if isinstance(exc, UnicodeDecodeError):
            unexpected: AdsftError = InputError(f"input is not UTF-8 (byte {exc.start})", fix="save it as UTF-8")
        elif isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
            unexpected = InputError(f"{exc.strerror}: {exc.filename}", fix="check the path")
        else:
            unexpected = AdsftError(
                f"unexpected {type(exc).__name__}: {exc}", fix="ADSFT_DEBUG=1 shows the traceback; please report it"
            )
        render.error(unexpected)
        return unexpected.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
