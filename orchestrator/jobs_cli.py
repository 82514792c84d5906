"""The job commands: submit, status, list, watch, events, cancel, pause, resume, download, sync, cost, keys.

Thin: parse, call orchestrator.jobs, render a rich table or --json (stable keys, see JobRow.public).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
JobArg = Annotated[str, typer.Argument(help="Job id (ours or the provider's).")]


def register(app: typer.Typer) -> None:
    keys_app = typer.Typer(no_args_is_help=True, help="Store API keys in a 0600 key file.")
    app.add_typer(keys_app, name="keys")

    @app.command()
    def submit(
        spec: Annotated[str, typer.Argument(help="Job spec (YAML).")],
        provider: Annotated[
            str | None, typer.Option(help="Fallback chain, e.g. openai,together,local or auto.")
        ] = None,
        dry_run: Annotated[bool, typer.Option(help="Validate and estimate only.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
        max_cost: Annotated[float | None, typer.Option(help="Refuse (exit 2) above this estimate, in USD.")] = None,
        force: Annotated[bool, typer.Option(help="Submit again even if the same job exists.")] = False,
        as_json: JsonFlag = False,
    ) -> None:
        """Validate, estimate, confirm, upload and create a fine-tuning job."""
        from orchestrator import jobs, render
        from orchestrator.jobspec import load_spec
        from orchestrator.ledger import Ledger

        def confirm(rows: list) -> bool:
            if yes:
                return True
            render.estimate_table(rows)
            if not sys.stdin.isatty():
                from orchestrator.errors import InputError

                raise InputError("confirmation needed and no terminal to ask", fix="pass --yes")
            return typer.confirm("Submit this job?", err=True)

        chain = [p.strip() for p in provider.split(",")] if provider else None
        result = jobs.submit(load_spec(spec), Ledger(), chain, dry_run, force, max_cost, confirm)
        for name, reason in result.skipped:
            render.err.print(f"[yellow]skipped {name}[/]: {reason}")
        if as_json:
            payload = (
                result.job.public()
                if result.job
                else {"dry_run": True, "estimates": [r.as_dict() for r in result.estimates]}
            )
            if result.job:
                payload.update(reused=result.reused, provider_estimate_usd=result.provider_estimate_usd)
            print(json.dumps(payload, ensure_ascii=False))
            return
        if result.job is None:
            render.estimate_table(result.estimates)
            render.out.print("dry run: nothing was uploaded")
            return
        render.out.print(("existing job " if result.reused else "submitted ") + f"[bold]{result.job.id}[/]")
        render.jobs_table([result.job])
        if result.provider_estimate_usd is not None:
            render.out.print(
                f"{result.job.provider}'s own estimate: ${result.provider_estimate_usd:.2f} "
                f"(ours: ${result.job.estimate_usd or 0:.2f})"
            )

    @app.command()
    def status(
        job: Annotated[str | None, typer.Argument(help="Job id; all recent jobs when omitted.")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Refresh a job from its provider and show it."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        ledger = Ledger()
        rows = [jobs.refresh(ledger, jobs.find_job(ledger, job))] if job else ledger.jobs(limit=20)
        if as_json:
            out = [r.public() for r in rows]
            print(json.dumps(out[0] if job else out, ensure_ascii=False))
        else:
            render.jobs_table(rows)

    @app.command("list")
    def list_jobs(
        provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
        status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
        limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
        as_json: JsonFlag = False,
    ) -> None:
        """List jobs from the ledger (no network)."""
        from orchestrator import render
        from orchestrator.ledger import Ledger

        rows = Ledger().jobs(provider, status, limit)
        if as_json:
            print(json.dumps([r.public() for r in rows], ensure_ascii=False))
        else:
            render.jobs_table(rows)

    @app.command()
    def watch(job: JobArg, interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 10.0) -> None:
        """Follow a job live until it ends."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        with render.live_job() as update:
            final = jobs.watch(Ledger(), job, update, interval)
        render.jobs_table([final])
        if final.status != "succeeded":
            raise typer.Exit(1)

    @app.command()
    def events(job: JobArg, as_json: JsonFlag = False) -> None:
        """The job's events (refreshed from the provider)."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        ledger = Ledger()
        row = jobs.refresh(ledger, jobs.find_job(ledger, job))
        found = ledger.events(row.id)
        if as_json:
            print(
                json.dumps(
                    [
                        {
                            "created_at": e["created_at"],
                            "level": e["level"],
                            "message": e["message"],
                            "data": json.loads(e["data"] or "{}"),
                        }
                        for e in found
                    ],
                    ensure_ascii=False,
                )
            )
        else:
            render.events_table(found)

    @app.command()
    def cancel(job: JobArg, as_json: JsonFlag = False) -> None:
        """Cancel a job."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        row = jobs.cancel(Ledger(), job)
        print(json.dumps(row.public())) if as_json else render.jobs_table([row])

    @app.command()
    def pause(job: JobArg) -> None:
        """Pause a job (where the provider supports it)."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        render.jobs_table([jobs.pause(Ledger(), job)])

    @app.command()
    def resume(job: JobArg) -> None:
        """Resume a paused job."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        render.jobs_table([jobs.pause(Ledger(), job, resume=True)])

    @app.command()
    def download(
        job: JobArg,
        out: Annotated[str | None, typer.Option(help="Folder for the artifact.")] = None,
        merged: Annotated[bool, typer.Option(help="The base model with the adapter merged in.")] = False,
    ) -> None:
        """Download a finished job's adapter (or merged model) into its artifact folder."""
        from pathlib import Path

        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        render.out.print(str(jobs.download(Ledger(), job, Path(out) if out else None, merged)))

    @app.command()
    def sync(
        concurrency: Annotated[int, typer.Option(help="Jobs polled at once.")] = 8, as_json: JsonFlag = False
    ) -> None:
        """Refresh every job that has not ended."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        results = jobs.sync(Ledger(), concurrency)
        rows = [r for r in results if not isinstance(r, Exception)]
        for r in results:
            if isinstance(r, Exception):
                render.err.print(f"[yellow]{r.message}[/]")
        print(json.dumps([r.public() for r in rows])) if as_json else render.jobs_table(rows)

    @app.command()
    def cost(job: JobArg, as_json: JsonFlag = False) -> None:
        """A job's estimate beside what the provider billed."""
        from orchestrator import jobs, render
        from orchestrator.ledger import Ledger

        ledger = Ledger()
        row = jobs.find_job(ledger, job)
        if row.phase == "created" and row.billed_usd is None:
            row = jobs.refresh(ledger, row)
        data = {
            "id": row.id,
            "provider": row.provider,
            "model": row.model,
            "estimate_usd": row.estimate_usd,
            "billed_usd": row.billed_usd,
            "trained_tokens": row.trained_tokens,
            "difference_usd": None
            if row.billed_usd is None or row.estimate_usd is None
            else round(row.billed_usd - row.estimate_usd, 4),
        }
        if as_json:
            print(json.dumps(data))
        else:
            render.out.print(
                f"{row.id} {row.provider} {row.model}: estimate ${data['estimate_usd'] or 0:.2f}, "
                f"billed {f'${row.billed_usd:.2f}' if row.billed_usd is not None else '(not yet)'}"
                + (f", difference ${data['difference_usd']:+.2f}" if data["difference_usd"] is not None else "")
            )

    @keys_app.command("set")
    def keys_set(provider: Annotated[str, typer.Argument(help="openai or together")]) -> None:
        """Store a key (read from the terminal without echo, or from stdin) in a 0600 file."""
        from orchestrator.keys import set_key

        key = typer.prompt(f"{provider} API key", hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
        path = set_key(provider, key)
        print(f"stored in {path} (mode 0600)")
