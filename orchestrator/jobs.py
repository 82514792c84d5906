"""Submitting and tracking fine-tuning jobs: one lifecycle for every provider, recorded in the ledger.

submit: validate -> estimate -> confirm -> upload (once per provider and file hash) -> create. The
provider list is a fallback chain: a provider that is unavailable (no key, fine-tuning wound down,
unsupported model) is skipped with its reason. Submitting the same dataset bytes + spec + provider
again returns the existing job unless `force`. Intent is written before every remote call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import retry, retry_if_result, stop_after_delay, wait_exponential

from orchestrator import preference
from orchestrator.errors import USER_ERRORS, AdsftError, BudgetExceeded, InputError, ProviderError, ProviderUnavailable
from orchestrator.estimate import Row, checked
from orchestrator.estimate import row as estimate_row
from orchestrator.jobspec import JobSpec, idempotency_key
from orchestrator.ledger import JobRow, Ledger
from orchestrator.paths import home
from orchestrator.pricing import Catalog, load_catalog
from orchestrator.validate import ValidationReport
from providers import auto_chain, get_provider
from providers.base import TERMINAL, JobRequest, JobState, Provider, StartFrom, now
from providers.keys import get_key, redact


@dataclass
class SubmitResult:
    job: JobRow | None
    reused: bool = False
    dry_run: bool = False
    estimates: list[Row] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (provider, reason)
    provider_estimate_usd: float | None = None


def chain(spec: JobSpec, override: list[str] | None) -> list[str]:
    """The providers to try, in order: as named, or the registry's `auto` chain (by each provider's
    `auto_rank`; one that needs a key only when its key is set)."""
    names = override or (spec.providers if spec.providers != "auto" else ["auto"])
    if names == ["auto"]:
        return auto_chain(lambda name: bool(get_key(name)))
    return names


def _upload_once(provider: Provider, ledger: Ledger, path: Path, sha: str) -> str:
    """Upload a file unless this provider already has these bytes (`sha`, from the validation pass).

    One process at a time per provider and file (a lease in the ledger); an intent left without a remote id
    by a crash is reconciled by the adapter, which looks for the file before it sends it again."""
    row = ledger.file(provider.name, sha)
    if row is not None and row["remote_id"]:
        return row["remote_id"]
    with ledger.lease(f"file:{provider.name}:{sha}", note=f"uploading {path.name}"):
        row = ledger.file(provider.name, sha)
        if row is not None and row["remote_id"]:
            return row["remote_id"]
        ledger.file_intent(provider.name, sha, path.stat().st_size, str(path))
        remote_id = provider.upload(path)
        ledger.file_uploaded(provider.name, sha, remote_id)
        return remote_id


def submit(
    spec: JobSpec,
    ledger: Ledger,
    providers: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    max_cost: float | None = None,
    confirm: Callable[[list[Row]], bool] | None = None,
    catalog: Catalog | None = None,
    notify: Callable[[str], None] | None = None,
) -> SubmitResult:
    catalog = catalog or load_catalog()
    budget = max_cost if max_cost is not None else spec.budget_usd
    result = SubmitResult(None, dry_run=dry_run)
    parent = _parent(ledger, spec)
    for name in chain(spec, providers):
        provider = get_provider(name)
        reason = provider.unavailable_reason()
        model = spec.model_for(name)
        if parent is not None and parent.provider != name:
            reason = reason or f"from_job {parent.id} ran on {parent.provider}"
        if spec.method == "dpo" and not provider.capabilities.dpo:
            reason = reason or "it does not train DPO"
        if reason or not model:
            result.skipped.append((name, reason or "the spec names no model for this provider"))
            continue
        methods = provider.facts.methods
        if methods is not None and spec.method not in methods:
            raise InputError(
                f"{name} does not train method {spec.method!r}",
                fix=f"use one of: {', '.join(methods)}, or another provider",
            )
        try:
            provider.check_model(model)
        except ProviderUnavailable as exc:
            result.skipped.append((name, exc.message))
            continue
        # one pass over each file: validation, exact tokens and the SHA-256 the key and uploads use
        report = checked(spec.training_file, spec.validation_file, name, model, catalog)
        preference.check_method(report, spec.method)
        hp = spec.hyperparameters
        rows = [
            estimate_row(
                report,
                catalog,
                epochs=hp.n_epochs or "auto",
                n_evals=hp.n_evals or 0,
                method=spec.method if spec.method in ("full", "dpo") else "lora",
            )
        ]
        result.estimates.extend(rows)
        cost = rows[0].cost_usd
        if budget is not None and cost > budget:
            raise BudgetExceeded(
                f"{name} {model}: estimate ${cost:.2f} is over the budget of ${budget:.2f}; "
                "nothing was uploaded or charged",
                fix="raise --max-cost or budget_usd",
            )
        digests = _digests(report)
        key = idempotency_key(spec, name, model, digests)
        existing = ledger.job_by_key(key)
        replace = existing is not None and existing.phase == "created"
        if replace and not force:
            result.job, result.reused = existing, True
            return result
        if dry_run:
            return result
        if confirm is not None and not confirm(rows):
            raise AdsftError("cancelled: nothing was uploaded")
        started = now()
        # one submit of a key at a time, across processes: a second one waits here for the first
        with ledger.lease(f"submit:{key}", note=f"submitting {name} {model}", on_wait=_waiting(ledger, key, notify)):
            existing = ledger.job_by_key(key)  # what the holder we may have waited for did
            if existing is not None and existing.phase == "created" and (not force or existing.created_at >= started):
                result.job, result.reused = existing, True
                return result
            if existing is not None and existing.phase == "created":  # --force: the old job gives its key up
                ledger.forget_key(key)
                existing = None
            try:
                result.job = _create(provider, ledger, spec, name, model, key, cost, existing, digests, parent)
            except ProviderUnavailable as exc:
                result.skipped.append((name, exc.message))
                pending = ledger.job_by_key(key)
                if pending is not None and pending.phase == "intent":
                    ledger.update_job(pending.id, phase="refused", status="failed", error=redact(exc.message))
                continue
        if provider.capabilities.estimate_price and result.job.training_file:
            result.provider_estimate_usd = _provider_estimate(provider, spec, model, result.job, key, parent)
        return result
    raise ProviderUnavailable(
        "no provider in the chain could take the job",
        fix="; ".join(f"{p}: {r}" for p, r in result.skipped) or "name a provider",
    )


def _parent(ledger: Ledger, spec: JobSpec) -> JobRow | None:
    """The finished job a DPO spec starts from (`from_job`), or None."""
    if spec.from_job is None:
        return None
    parent = ledger.job(spec.from_job)
    if parent is None:
        raise InputError(f"from_job {spec.from_job!r} is not in the ledger", fix="see `adsft list`")
    if parent.status != "succeeded" or not parent.remote_id or not parent.result_model:
        raise InputError(
            f"from_job {parent.id} has not succeeded ({parent.status}); a DPO job starts from a finished one",
            fix=f"wait with `adsft watch {parent.id}`",
        )
    return parent


def _waiting(ledger: Ledger, key: str, notify: Callable[[str], None] | None) -> Callable[[Any], None]:
    def on_wait(holder: Any) -> None:
        if notify is not None:
            pending = ledger.job_by_key(key)
            job = f" (job {pending.id})" if pending is not None else ""
            notify(f"process {holder['pid']} is submitting the same job{job}; waiting for it")

    return on_wait


def _digests(report: ValidationReport) -> tuple[str, str | None]:
    """The SHA-256 of the training and validation files, as the validation pass computed them."""
    return report.files[0].sha256, report.files[1].sha256 if len(report.files) > 1 else None


def _request(
    spec: JobSpec, model: str, key: str, train_id: str, val_id: str | None, parent: JobRow | None = None
) -> JobRequest:
    return JobRequest(
        model=model,
        training_file=train_id,
        validation_file=val_id,
        idempotency_key=key,
        hyperparameters=spec.hyperparameters_for(),
        suffix=spec.suffix,
        seed=spec.seed,
        start_from=StartFrom(parent.remote_id or "", parent.result_model) if parent is not None else None,
    )


def _create(
    provider: Provider,
    ledger: Ledger,
    spec: JobSpec,
    name: str,
    model: str,
    key: str,
    cost: float,
    existing: JobRow | None,
    digests: tuple[str, str | None],
    parent: JobRow | None = None,
) -> JobRow:
    train_id = _upload_once(provider, ledger, spec.training_file, digests[0])
    val_id = (
        _upload_once(provider, ledger, spec.validation_file, digests[1] or "")
        if spec.validation_file and digests[1]
        else None
    )
    request = _request(spec, model, key, train_id, val_id, parent)
    state: JobState | None = None
    if existing is not None and existing.phase == "intent":  # a crash came between create and record
        job = existing
        state = provider.find_job(request, since=existing.created_at)
    else:
        job = ledger.job_intent(name, model, spec.model_dump(mode="json"), key, cost, train_id, val_id)
    if state is None:
        state = provider.create_job(request)
    ledger.update_job(
        job.id,
        remote_id=state.remote_id,
        phase="created",
        status=state.status.value,
        raw_status=state.raw_status,
        training_file=train_id,
        validation_file=val_id,
    )
    refreshed = ledger.job(job.id)
    assert refreshed is not None
    return refreshed


def _provider_estimate(
    provider: Provider, spec: JobSpec, model: str, job: JobRow, key: str, parent: JobRow | None
) -> float | None:
    try:
        return provider.estimate_price(_request(spec, model, key, job.training_file or "", job.validation_file, parent))
    except USER_ERRORS:
        return None


def find_job(ledger: Ledger, job_id: str) -> JobRow:
    job = ledger.job(job_id)
    if job is None:
        raise InputError(f"no job {job_id!r} in the ledger", fix="see `adsft list`")
    return job


def refresh(ledger: Ledger, job: JobRow, catalog: Catalog | None = None) -> JobRow:
    """Ask the provider for the job's state, events and checkpoints; record them; reconcile billing."""
    if job.phase != "created" or not job.remote_id:
        return job
    provider = get_provider(job.provider)
    state = provider.get_job(job.remote_id)
    billed = state.billed_usd
    if billed is None and state.trained_tokens and state.status.value == "succeeded":
        try:
            price = (catalog or load_catalog()).price(job.provider, job.model, "sft")
            billed = state.trained_tokens * (price.training_per_1m or 0) / 1e6
        except InputError:
            billed = None
    ledger.update_job(
        job.id,
        status=state.status.value,
        raw_status=state.raw_status,
        result_model=state.result_model,
        progress=state.progress,
        metrics=state.metrics or None,
        trained_tokens=state.trained_tokens,
        billed_usd=billed,
        error=redact(state.error) if state.error else None,
    )
    events = provider.list_events(job.remote_id)  # no key reaches the ledger, whatever a provider sends
    ledger.add_events(job.id, [(e.remote_id, e.created_at, e.level, redact(e.message), e.data) for e in events])
    if provider.capabilities.checkpoints:
        ledger.add_checkpoints(
            job.id, [(c.remote_id, c.step, c.model, c.metrics) for c in provider.list_checkpoints(job.remote_id)]
        )
    updated = ledger.job(job.id)
    assert updated is not None
    return updated


def sync(ledger: Ledger, concurrency: int = 8) -> list[JobRow | ProviderError]:
    """Refresh every non-terminal job, several at a time (the SDKs' clients are thread-safe)."""
    jobs = ledger.jobs(non_terminal=True)

    def one(job: JobRow) -> JobRow | ProviderError:
        try:
            return refresh(ledger, job)
        except ProviderError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, jobs))


def watch(
    ledger: Ledger, job_id: str, on_update: Callable[[JobRow], None], interval: float = 5.0, timeout: float = 24 * 3600
) -> JobRow:
    """Poll until the job reaches a terminal state (tenacity: exponential backoff up to `interval`)."""

    @retry(
        retry=retry_if_result(lambda j: j.status not in {s.value for s in TERMINAL}),
        wait=wait_exponential(multiplier=0.5, max=interval),
        stop=stop_after_delay(timeout),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    def poll() -> JobRow:
        job = refresh(ledger, find_job(ledger, job_id))
        on_update(job)
        return job

    return poll()


def cancel(ledger: Ledger, job_id: str) -> JobRow:
    job = find_job(ledger, job_id)
    if job.status in {s.value for s in TERMINAL}:
        return job
    if job.phase != "created" or not job.remote_id:
        ledger.update_job(job.id, status="cancelled", phase="refused")
    else:
        state = get_provider(job.provider).cancel(job.remote_id)
        ledger.update_job(job.id, status=state.status.value, raw_status=state.raw_status)
    updated = ledger.job(job.id)
    assert updated is not None
    return updated


def download(ledger: Ledger, job_id: str, dest: Path | None = None, merged: bool = False) -> Path:
    job = find_job(ledger, job_id)
    if job.status != "succeeded" or not job.remote_id:
        raise InputError(f"job {job.id} has not succeeded ({job.status})", fix="wait with `adsft watch`")
    target = dest or home() / "artifacts" / (job.id + ("-merged" if merged else ""))
    path = get_provider(job.provider).download(job.remote_id, target, merged)
    ledger.update_job(job.id, artifact_path=str(path))
    return path


def events(ledger: Ledger, job_id: str) -> list[dict]:
    """The job's events, refreshed from its provider, as plain records (stable keys)."""
    row = refresh(ledger, find_job(ledger, job_id))
    return [
        {
            "created_at": e["created_at"],
            "level": e["level"],
            "message": e["message"],
            "data": json.loads(e["data"] or "{}"),
        }
        for e in ledger.events(row.id)
    ]


def cost(ledger: Ledger, job_id: str) -> dict:
    """A job's estimate beside what the provider billed (refreshed when the bill is not known yet)."""
    row = find_job(ledger, job_id)
    if row.phase == "created" and row.billed_usd is None:
        row = refresh(ledger, row)
    difference = None
    if row.billed_usd is not None and row.estimate_usd is not None:
        difference = round(row.billed_usd - row.estimate_usd, 4)
    return {
        "id": row.id,
        "provider": row.provider,
        "model": row.model,
        "estimate_usd": row.estimate_usd,
        "billed_usd": row.billed_usd,
        "trained_tokens": row.trained_tokens,
        "difference_usd": difference,
    }


def pause(ledger: Ledger, job_id: str, resume: bool = False) -> JobRow:
    job = find_job(ledger, job_id)
    provider = get_provider(job.provider)
    can = provider.capabilities.pause_resume or (resume and provider.capabilities.restart)
    if not can or not job.remote_id:
        what = "resumed" if resume else "paused"
        raise InputError(f"{job.provider} jobs cannot be {what}", fix="cancel it instead")
    state = provider.resume(job.remote_id) if resume else provider.pause(job.remote_id)
    ledger.update_job(job.id, status=state.status.value, raw_status=state.raw_status)
    updated = ledger.job(job.id)
    assert updated is not None
    return updated
