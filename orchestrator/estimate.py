"""`adsft estimate`: what a fine-tuning run costs on each provider, side by side, before anything is paid.

OpenAI: billed tokens = sum over examples of min(tokens, model limit) x epochs (validation is free);
`auto` epochs follow the OpenAI cookbook (3, raised so that examples x epochs >= 100 up to 25, lowered
so that it stays <= 25,000, at least 1). Together: (epochs x training tokens + n_evals x validation
tokens) x the price of the model's size tier and method. Local: GPU hours from a training throughput
x the $/hour. Every row also prices scoring 1,000 messages with the tuned model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator import preference
from orchestrator.errors import BudgetExceeded, InputError, Problem
from orchestrator.pricing import Catalog
from orchestrator.tokens import resolve
from orchestrator.validate import ValidationReport, validate
from providers import facts, providers_for, strip_provider

SCORING_MESSAGES = 1000


def openai_auto_epochs(n_examples: int) -> int:
    """The OpenAI cookbook's default epochs for a training set of this size."""
    epochs = 3
    if n_examples * epochs < 100:
        epochs = min(25, 100 // max(1, n_examples))
    elif n_examples * epochs > 25_000:
        epochs = max(1, 25_000 // n_examples)
    return epochs


def openai_billed_tokens(capped_train_tokens: int, epochs: int) -> int:
    """OpenAI bills each example up to the model's limit, once per epoch; validation is free."""
    return capped_train_tokens * epochs


def together_billed_tokens(train_tokens: int, val_tokens: int, epochs: int, n_evals: int) -> int:
    """Together bills every processed token: epochs x training + evaluations x validation."""
    return epochs * train_tokens + n_evals * val_tokens


def usd(tokens: int, per_1m: float) -> float:
    return tokens * per_1m / 1e6


@dataclass
class Row:
    provider: str
    model: str
    method: str
    examples: int
    train_tokens: int
    val_tokens: int
    epochs: int
    n_evals: int
    billed_tokens: int
    price_per_1m: float | None
    price_as_of: str | None
    price_source: str | None
    cost_usd: float
    duration_hours: float | None
    scoring_1000_usd: float | None
    tokenizer_exact: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TokenTotals:
    examples: int
    train: int
    train_capped: int
    val: int
    prompt_avg: float
    answer_avg: float
    exact: bool


def totals(report: ValidationReport) -> TokenTotals:
    """The token totals of a validated dataset (validate counted them in its one pass over each file)."""
    tr = report.files[0]
    va = report.files[1] if len(report.files) > 1 else None
    return TokenTotals(
        tr.examples,
        tr.tokens,
        tr.tokens_capped,
        va.tokens if va else 0,
        tr.prompt_tokens_avg,
        tr.answer_tokens_avg,
        bool(report.tokenizer_exact),
    )


def checked(train: Path, val: Path | None, provider: str, model: str, catalog: Catalog) -> ValidationReport:
    """The dataset validated for this provider and model; an InputError if it has errors."""
    report = validate(train, provider, model, val, catalog.context_limit(provider, model), catalog)
    report.raise_for_errors("nothing was estimated, uploaded or charged")
    return report


def _scoring_cost(catalog: Catalog, provider: str, model: str, t: TokenTotals) -> float | None:
    try:
        method = facts(provider).scoring_price_method
        if method is None:
            return None
        price = catalog.price(provider, model, method)
    except InputError:
        return None
    if price.inference_input_per_1m is None or price.inference_output_per_1m is None:
        return None
    per_message = t.prompt_avg * price.inference_input_per_1m + t.answer_avg * price.inference_output_per_1m
    return round(SCORING_MESSAGES * per_message / 1e6, 4)


def estimate(
    train: str | Path,
    val: str | Path | None,
    providers: list[str],
    models: list[str],
    catalog: Catalog,
    epochs: str | int = "auto",
    n_evals: int = 0,
    method: str = "lora",
    local_tokens_per_second: float | None = None,
    gpu_hour_usd: float | None = None,
    max_cost: float | None = None,
) -> list[Row]:
    train_path, val_path = Path(train), Path(val) if val else None
    rows: list[Row] = []
    for provider in providers:
        info = facts(provider)
        chosen = [strip_provider(m) for m in models if provider in providers_for(m)] or [info.default_model]
        for model in chosen:
            report = checked(train_path, val_path, provider, model, catalog)
            rows.append(
                row(report, catalog, epochs, n_evals, method, local_tokens_per_second, gpu_hour_usd),
            )
    if max_cost is not None:
        over = [r for r in rows if r.cost_usd > max_cost]
        if over:
            raise BudgetExceeded(
                f"estimate over the budget of ${max_cost:.2f}; nothing was uploaded or charged",
                [Problem(f"{r.provider} {r.model}: ${r.cost_usd:.2f}") for r in over],
                fix="raise --max-cost, use fewer epochs or examples, or a cheaper model",
            )
    return rows


def row(
    report: ValidationReport,
    catalog: Catalog,
    epochs: str | int = "auto",
    n_evals: int = 0,
    method: str = "lora",
    local_tps: float | None = None,
    gpu_hour_usd: float | None = None,
) -> Row:
    """The estimate for the report's provider and model, from the report's token counts."""
    provider, model = report.provider, report.model or facts(report.provider).default_model
    has_val = len(report.files) > 1
    t = totals(report)
    notes = [] if t.exact else [resolve(model).note or "approximate token count"]
    info = facts(provider)
    auto = {"cookbook": openai_auto_epochs(t.examples), "one": 1, "three": 3}[info.auto_epochs]
    n_epochs = auto if epochs == "auto" else int(epochs)
    if info.billing == "gpu_hours":
        return _gpu_row(provider, model, catalog, t, n_epochs, local_tps, gpu_hour_usd, notes)
    key = info.price_method if info.price_method != "sft_by_method" else f"sft_{'full' if method == 'full' else 'lora'}"
    if method == "dpo":
        key, note = preference.price_key(info, catalog, provider, model, key)
        notes.append(note)
    price = catalog.price(provider, model, key)
    if info.billing == "tokens_capped":
        evals, billed = 0, openai_billed_tokens(t.train_capped, n_epochs)
        if has_val:
            notes.append("validation tokens are not billed")
    else:
        evals = n_evals if has_val else 0
        billed = together_billed_tokens(t.train, t.val, n_epochs, evals)
    cost = usd(billed, price.training_per_1m or 0)
    return Row(
        provider,
        model,
        key,
        t.examples,
        t.train,
        t.val,
        n_epochs,
        evals,
        billed,
        price.training_per_1m,
        str(price.as_of),
        price.source,
        round(cost, 4),
        None,
        _scoring_cost(catalog, provider, model, t),
        t.exact,
        notes,
    )


def _gpu_row(
    provider: str,
    model: str,
    catalog: Catalog,
    t: TokenTotals,
    n_epochs: int,
    local_tps: float | None,
    gpu_hour_usd: float | None,
    notes: list[str],
) -> Row:
    fact = catalog.fact(provider, model)
    tps = local_tps or (fact.tokens_per_second if fact else None)
    if tps is None:
        raise InputError(
            f"no training throughput known for {provider} model {model!r}",
            fix="add the model's `tokens_per_second` under `models:` in a price file (ADSFT_PRICES=FILE, or "
            "--prices for `adsft estimate`, which also takes --local-tokens-per-second); measure it with "
            "bench/bench_train.py",
        )
    gpu = catalog.price(provider, None, "gpu_hour")
    rate = gpu_hour_usd if gpu_hour_usd is not None else gpu.gpu_hour_usd or 0.0
    billed = n_epochs * t.train
    hours = billed / tps / 3600
    notes.append(f"{tps:,.0f} tokens/s at ${rate:.2f}/GPU-hour" + ("" if local_tps else " (catalog default)"))
    return Row(
        provider,
        model,
        "lora",
        t.examples,
        t.train,
        t.val,
        n_epochs,
        0,
        billed,
        None,
        str(gpu.as_of),
        gpu.source,
        round(hours * rate, 4),
        round(hours, 4),
        None,
        t.exact,
        notes,
    )
