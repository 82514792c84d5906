"""The pricing catalog: prices and model facts as data (orchestrator/data/pricing.yaml), each price with
its source and date. A user file given with --prices or ADSFT_PRICES is read first and wins.
Nothing falls back to a silent default: an unknown model is an error that says what to add."""

from __future__ import annotations

import datetime as dt
import difflib
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.errors import InputError, Problem, as_input_error
from providers import facts, price_id
from rules.loader import read_yaml

BUILTIN = Path(__file__).parent / "data" / "pricing.yaml"
STALE_DAYS = 180
Method = Literal["sft", "sft_lora", "sft_full", "dpo_lora", "dpo_full", "inference", "gpu_hour"]


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(min_length=1)  # a provider's price-catalog id (its name unless it says otherwise)
    method: Method
    model: str | None = None
    size_min_b: float | None = Field(default=None, ge=0)
    size_max_b: float | None = Field(default=None, gt=0)
    training_per_1m: float | None = Field(default=None, ge=0)
    inference_input_per_1m: float | None = Field(default=None, ge=0)
    inference_output_per_1m: float | None = Field(default=None, ge=0)
    gpu_hour_usd: float | None = Field(default=None, ge=0)
    gpu: str | None = None
    source: str = Field(min_length=1)
    as_of: dt.date

    def matches(self, provider: str, model: str | None, method: str, size_b: float | None) -> bool:
        if self.provider != provider or self.method != method:
            return False
        if self.model is not None:
            return model is not None and fnmatchcase(model, self.model)
        if self.size_min_b is not None or self.size_max_b is not None:
            if size_b is None:
                return False
            return (self.size_min_b or 0) < size_b <= (self.size_max_b or float("inf")) or (
                size_b == 0 and (self.size_min_b or 0) == 0
            )
        return True

    def age_days(self, today: dt.date | None = None) -> int:
        return ((today or dt.date.today()) - self.as_of).days


class ModelFact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(min_length=1)
    model: str
    size_b: float | None = Field(default=None, gt=0)
    context_limit: int | None = Field(default=None, gt=0)
    tokens_per_second: float | None = Field(default=None, gt=0)


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prices: list[Price] = Field(default_factory=list)
    models: list[ModelFact] = Field(default_factory=list)


@dataclass
class Catalog:
    prices: list[Price]
    models: list[ModelFact]
    files: list[str]

    def fact(self, provider: str, model: str) -> ModelFact | None:
        """`provider` is a provider's name; the catalog is keyed by its price-catalog id."""
        pid = price_id(provider)
        return next((m for m in self.models if m.provider == pid and fnmatchcase(model, m.model)), None)

    def context_limit(self, provider: str, model: str) -> int | None:
        fact = self.fact(provider, model)
        return fact.context_limit if fact else None

    def size_b(self, provider: str, model: str) -> float | None:
        fact = self.fact(provider, model)
        return fact.size_b if fact else None

    def priced_models(self, provider: str) -> list[str]:
        """The model ids (globs) this provider's entries name, where it prices model by model."""
        pid = price_id(provider)
        return sorted({p.model for p in self.prices if p.provider == pid and p.model and p.training_per_1m})

    def check_fine_tunable(self, provider: str, model: str) -> None:
        """An InputError, with the close matches, for a model the provider does not fine-tune: checked where
        the provider prices fine-tuning model by model (its `price_method` is `sft`). A fine-tuned model's
        id (with a `:`) is left to the provider, which checks it when the job is created."""
        if facts(provider).price_method != "sft" or ":" in model:
            return
        known = self.priced_models(provider)
        if not known or any(fnmatchcase(model, glob) for glob in known):
            return
        close = difflib.get_close_matches(model, known, n=3, cutoff=0.5)
        raise InputError(
            f"{provider} does not fine-tune {model!r}"
            + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""),
            fix=f"one of: {', '.join(known)} (or add the model to a price file: --prices FILE / ADSFT_PRICES)",
        )

    def price(self, provider: str, model: str | None, method: str) -> Price:
        size = self.size_b(provider, model) if model else None
        pid = price_id(provider)
        for p in self.prices:
            if p.matches(pid, model, method, size):
                return p
        what = f"{provider} {method} price" + (f" for model {model!r}" if model else "")
        hint = (
            " (its parameter count is unknown: add it under `models:` with `size_b`)"
            if model and size is None and any(p.provider == pid and p.size_max_b for p in self.prices)
            else ""
        )
        raise InputError(
            f"no {what}{hint}",
            fix="add an entry to a price file and pass it with --prices FILE (or ADSFT_PRICES); "
            "see `adsft prices` for the format and the built-in entries",
        )


def _parse(path: Path) -> CatalogFile:
    with as_input_error():
        data, lines = read_yaml(path)
    try:
        return CatalogFile.model_validate(data or {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = None
            for cut in range(len(loc), 0, -1):
                if loc[:cut] in lines:
                    line = lines[loc[:cut]]
                    break
            problems.append(Problem(f"{'.'.join(map(str, loc))}: {err['msg']}", str(path), line))
        raise InputError(
            f"{path}: {len(problems)} problem(s) in the price file",
            problems,
            fix="correct the named fields (dates as YYYY-MM-DD, prices as numbers)",
        ) from None


def load_catalog(user_file: str | Path | None = None) -> Catalog:
    files = [Path(p) for p in (user_file or os.environ.get("ADSFT_PRICES") or "",) if p]
    for f in files:
        if not f.is_file():
            raise InputError(f"no price file {f}", fix="check --prices / ADSFT_PRICES")
    parsed = [_parse(f) for f in files] + [_parse(BUILTIN)]
    return Catalog(
        [p for c in parsed for p in c.prices],
        [m for c in parsed for m in c.models],
        [str(f) for f in [*files, BUILTIN]],
    )
