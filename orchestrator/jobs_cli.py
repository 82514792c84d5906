"""The job commands: submit, status, list, watch, events, cancel, pause, resume, download, sync, cost, keys.

Thin: one small function per command that parses, calls one function of orchestrator.jobs, and renders
a rich table or --json (stable keys, see JobRow.public). `register` only attaches them to the app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
JobArg = Annotated[str, typer.Argument(help="Job id (ours or the provider's).")]


def _ledger():
    from orchestrator.ledger import Ledger

    return Ledger()


def _show(rows: list, as_json: bool, one: bool = False) -> None:
    from orchestrator import render

    if as_json:
        out = [r.public() for r in rows]
        print(json.dumps(out[0] if one else out, ensure_ascii=False))
    else:
        render.jobs_table(rows)


def _confirmer(yes: bool):
    from orchestrator import render
    from orchestrator.errors import InputError

    def confirm(rows: list) -> bool:
        if yes:
            return True
        render.estimate_table(rows)
        if not sys.stdin.isatty():
            raise InputError("confirmation needed and no terminal to ask", fix="pass --yes")
        return typer.confirm("Submit this job?", err=True)

    return confirm


def submit(
    spec: Annotated[str, typer.Argument(help="Job spec (YAML).")],
    provider: Annotated[str | None, typer.Option(help="Fallback chain of provider names, or auto.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate and estimate only.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    max_cost: Annotated[float | None, typer.Option(help="Refuse (exit 2) above this estimate, in USD.")] = None,
    force: Annotated[bool, typer.Option(help="Submit again even if the same job exists.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Validate, estimate, confirm, upload and create a fine-tuning job."""
    from orchestrator import jobs, render
    from orchestrator.jobspec import load_spec

    chain = [p.strip() for p in provider.split(",")] if provider else None
    result = jobs.submit(
        load_spec(spec), _ledger(), chain, dry_run, force, max_cost, _confirmer(yes), notify=render.err.print
    )
    for name, reason in result.skipped:
        render.err.print(f"[yellow]skipped {name}[/]: {reason}")
    if as_json:
        if result.job is None:
            payload = {"dry_run": True, "estimates": [r.as_dict() for r in result.estimates]}
        else:
            payload = result.job.public()
            payload.update(reused=result.reused, provider_estimate_usd=result.provider_estimate_usd)
        print(json.dumps(payload, ensure_ascii=False))
    elif result.job is None:
        render.estimate_table(result.estimates)
        render.out.print("dry run: nothing was uploaded")
    else:
        render.submitted(result)


def status(
    job: Annotated[str | None, typer.Argument(help="Job id; all recent jobs when omitted.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Refresh a job from its provider and show it."""
    from orchestrator import jobs

    ledger = _ledger()
    rows = [jobs.refresh(ledger, jobs.find_job(ledger, job))] if job else ledger.jobs(limit=20)
    _show(rows, as_json, one=job is not None)


def list_jobs(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List jobs from the ledger (no network)."""
    _show(_ledger().jobs(provider, status, limit), as_json)


def watch(job: JobArg, interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 10.0) -> None:
    """Follow a job live until it ends."""
    from orchestrator import jobs, render

    with render.live_job() as update:
        final = jobs.watch(_ledger(), job, update, interval)
    render.jobs_table([final])
    if final.status != "succeeded":
        raise typer.Exit(1)


def events(job: JobArg, as_json: JsonFlag = False) -> None:
    """The job's events (refreshed from the provider)."""
    from orchestrator import jobs, render

    found = jobs.events(_ledger(), job)
    print(json.dumps(found, ensure_ascii=False)) if as_json else render.events_table(found)


def cancel(job: JobArg, as_json: JsonFlag = False) -> None:
    """Cancel a job."""
    from orchestrator import jobs

    _show([jobs.cancel(_ledger(), job)], as_json, one=True)


def pause(job: JobArg) -> None:
    """Pause a job (where the provider supports it)."""
    from orchestrator import jobs, render

    render.jobs_table([jobs.pause(_ledger(), job)])


def resume(job: JobArg) -> None:
    """Resume a paused job."""
    from orchestrator import jobs, render

    render.jobs_table([jobs.pause(_ledger(), job, resume=True)])


def download(
    job: JobArg,
    out: Annotated[str | None, typer.Option(help="Folder for the artifact.")] = None,
    merged: Annotated[bool, typer.Option(help="The base model with the adapter merged in.")] = False,
) -> None:
    """Download a finished job's adapter (or merged model) into its artifact folder."""
    from orchestrator import jobs, render

    render.out.print(str(jobs.download(_ledger(), job, Path(out) if out else None, merged)))


def sync(concurrency: Annotated[int, typer.Option(help="Jobs polled at once.")] = 8, as_json: JsonFlag = False) -> None:
    """Refresh every job that has not ended."""
    from orchestrator import jobs, render

    results = jobs.sync(_ledger(), concurrency)
    for r in results:
        if isinstance(r, Exception):
            render.err.print(f"[yellow]{r.message}[/]")
    _show([r for r in results if not isinstance(r, Exception)], as_json)


def cost(job: JobArg, as_json: JsonFlag = False) -> None:
    """A job's estimate beside what the provider billed."""
    from orchestrator import jobs, render

    data = jobs.cost(_ledger(), job)
    print(json.dumps(data)) if as_json else render.job_cost(data)


def keys_set(provider: Annotated[str, typer.Argument(help="A provider that takes an API key.")]) -> None:
    """Store a key (read from the terminal without echo, or from stdin) in a 0600 file."""
    from providers.keys import set_key

    key = typer.prompt(f"{provider} API key", hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
    path = set_key(provider, key)
    print(f"stored in {path} (mode 0600)")


COMMANDS = {
    "submit": submit,
    "status": status,
    "list": list_jobs,
    "watch": watch,
    "events": events,
    "cancel": cancel,
    "pause": pause,
    "resume": resume,
    "download": download,
    "sync": sync,
    "cost": cost,
}


def register(app: typer.Typer) -> None:
    for name, command in COMMANDS.items():
        app.command(name)(command)
    keys_app = typer.Typer(no_args_is_help=True, help="Store API keys in a 0600 key file.")
    keys_app.command("set")(keys_set)
    app.add_typer(keys_app, name="keys")
