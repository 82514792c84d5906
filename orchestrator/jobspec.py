"""The job spec: a YAML file validated by pydantic (unknown fields are errors), with file and line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orchestrator.errors import InputError, Problem, as_input_error
from rules.loader import read_yaml


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Lora(Strict):
    """What the user sets; anything left unset is the provider's default for the model (the local
    trainer's live in providers/local/defaults.py, the services apply their own)."""

    r: int | None = Field(default=None, ge=1, le=1024)
    alpha: float | None = Field(default=None, gt=0)
    dropout: float | None = Field(default=None, ge=0, lt=1)
    trainable_modules: str | None = None


class Hyperparameters(Strict):
    n_epochs: int | None = Field(default=None, ge=1, le=50)
    batch_size: int | None = Field(default=None, ge=1)
    learning_rate_multiplier: float | None = Field(default=None, gt=0)  # OpenAI
    learning_rate: float | None = Field(default=None, gt=0)  # Together, local
    n_evals: int | None = Field(default=None, ge=0)
    n_checkpoints: int | None = Field(default=None, ge=1)
    warmup_ratio: float | None = Field(default=None, ge=0, le=1)
    train_on_inputs: bool | Literal["auto"] | None = None
    early_stopping_patience: int | None = Field(default=None, ge=1)


class JobSpec(Strict):
    providers: list[str] | Literal["auto"] = "auto"
    model: str | None = None
    models: dict[str, str] = Field(default_factory=dict)  # per-provider model ids
    training_file: Path
    validation_file: Path | None = None
    method: Literal["lora", "full", "dora", "adalora", "prompt_lora", "qlora", "dpo"] = "lora"
    beta: float | None = Field(default=None, gt=0, le=10)  # dpo: how far the model may move from its reference
    from_job: str | None = None  # dpo: start from this (SFT) job of the ledger, which is also the reference
    lora: Lora = Field(default_factory=Lora)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    suffix: str | None = Field(default=None, max_length=40)
    seed: int | None = None
    budget_usd: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _has_model(self) -> JobSpec:
        if not self.model and not self.models:
            raise ValueError("name a `model` (or per-provider `models`)")
        if self.method != "dpo" and (self.beta is not None or self.from_job is not None):
            raise ValueError("`beta` and `from_job` are for `method: dpo`")
        return self

    def model_for(self, provider: str) -> str | None:
        return self.models.get(provider) or self.model

    def hyperparameters_for(self) -> dict:
        hp = self.hyperparameters.model_dump(exclude_none=True)
        hp.update({"lora": self.method != "full", "method": self.method})
        if self.beta is not None:
            hp["beta"] = self.beta
        hp.update({f"lora_{k}": v for k, v in self.lora.model_dump(exclude_none=True).items()})
        if self.hyperparameters.early_stopping_patience:
            hp["early_stopping_enabled"] = True
        return hp

    def fingerprint(self) -> dict:
        """What makes two submissions the same job (paths and the provider list are not part of it)."""
        return self.model_dump(mode="json", exclude={"providers", "training_file", "validation_file", "budget_usd"})


def load_spec(path: str | Path) -> JobSpec:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no job spec {path}", fix="pass a YAML job spec (see README: Job specs)")
    with as_input_error():
        data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"{path} must be a mapping", [Problem("the top level must be a mapping", str(path), 1)])
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = next((lines[loc[:cut]] for cut in range(len(loc), 0, -1) if loc[:cut] in lines), None)
            field = ".".join(map(str, loc)) or "spec"
            msg = f"unknown field {field!r}" if err["type"] == "extra_forbidden" else f"{field}: {err['msg']}"
            fix = "remove it or check its spelling" if err["type"] == "extra_forbidden" else None
            problems.append(Problem(msg.removeprefix("Value error, "), str(path), line, fix=fix))
        raise InputError(f"{path}: {len(problems)} problem(s) in the job spec", problems) from None
    base = path.parent
    spec.training_file = (base / spec.training_file).resolve()
    if spec.validation_file is not None:
        spec.validation_file = (base / spec.validation_file).resolve()
    missing = [
        (f, k)
        for k, f in (("training_file", spec.training_file), ("validation_file", spec.validation_file))
        if f is not None and not f.is_file()
    ]
    if missing:
        raise InputError(
            f"{path}: a file it names does not exist",
            [Problem(f"{k}: no such file {f}", str(path), lines.get((k,))) for f, k in missing],
            fix="paths are relative to the spec file's folder",
        )
    return spec


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def idempotency_key(spec: JobSpec, provider: str, model: str, digests: tuple[str, str | None] | None = None) -> str:
    """`digests`: the files' SHA-256 when already known (validation computes them in its pass)."""
    if digests is None:
        digests = (
            sha256_file(spec.training_file),
            sha256_file(spec.validation_file) if spec.validation_file else None,
        )
    parts = {
        "train": digests[0],
        "val": digests[1],
        "spec": spec.fingerprint(),
        "provider": provider,
        "model": model,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
