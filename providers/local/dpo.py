"""The local DPO trainer, a recipe to read top to bottom: setup -> reference -> train -> finish.

Direct preference optimisation on preference pairs (`input.messages`, `preferred_output`,
`non_preferred_output`) with a LoRA adapter. The policy starts from the SFT job's adapter (`reference_adapter`,
trainable) or from a fresh adapter on the base; the reference is that starting point, so its log-probabilities
are computed once, before the first step, and kept in the job folder (a resumed job reads them back instead
of recomputing them from a policy that has moved). Log-probabilities are summed over the answer's tokens
only: the output projection runs at answer positions alone. The loss is
    -log sigmoid(beta * ((log pi(y+) - log ref(y+)) - (log pi(y-) - log ref(y-))))
plus, with `sft_weight`, the preferred answer's mean negative log-likelihood (it keeps the wording fluent).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from providers.errors import ProviderInputError
from providers.local import adapters
from providers.local.data import IGNORE, Encoded, encode
from providers.local.defaults import DPO
from providers.local.jobstore import JobStore
from providers.local.train import _device, _resume, _save_checkpoint, _schedule, load_base


@dataclass
class DPOConfig:
    base_model: str
    training_file: str
    validation_file: str | None = None
    reference_adapter: str | None = None  # the SFT job's adapter: where the policy starts, and the reference
    method: str = "dpo"
    beta: float = DPO["beta"]
    sft_weight: float = DPO["sft_weight"]
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    top_layers: int | None = None  # a fresh adapter only (one loaded from the SFT job keeps its own layout)
    epochs: int = DPO["epochs"]
    learning_rate: float = DPO["learning_rate"]
    warmup_ratio: float = 0.1
    rows_per_batch: int = DPO["rows_per_batch"]  # pairs per optimizer step
    max_tokens: int = 1024
    checkpoint_every: int = 50
    log_every: int = 5
    seed: int = 0

    @classmethod
    def of(cls, values: dict[str, Any]) -> DPOConfig:
        """From a job's config, which may carry the SFT recipe's other settings too."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class Pair:
    preferred: Encoded
    rejected: Encoded


def read_pairs(tokenizer, path: str, max_tokens: int) -> list[Pair]:
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        try:
            prompt = obj["input"]["messages"]
            good = encode(tokenizer, [*prompt, obj["preferred_output"][0]], max_tokens)
            bad = encode(tokenizer, [*prompt, obj["non_preferred_output"][0]], max_tokens)
        except (KeyError, IndexError, TypeError):
            raise ProviderInputError(
                f"{path}:{number}: not a preference pair", fix="write pairs with `adsft pairs`; check with validate"
            ) from None
        if good is not None and bad is not None:
            pairs.append(Pair(good, bad))
    if not pairs:
        raise ProviderInputError(f"{path}: no preference pair fits in {max_tokens} tokens", fix="raise max_tokens")
    return pairs


def _tensors(pairs: list[Pair], pad_id: int, device: torch.device) -> dict[str, torch.Tensor]:
    """One right-padded batch: every preferred sequence, then every rejected one."""
    rows = [p.preferred for p in pairs] + [p.rejected for p in pairs]
    width = max(len(e.ids) for e in rows)
    ids = [e.ids + [pad_id] * (width - len(e.ids)) for e in rows]
    labels = [e.labels + [IGNORE] * (width - len(e.ids)) for e in rows]
    mask = [[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in rows]
    t = lambda x: torch.tensor(x, device=device)  # noqa: E731
    return {"input_ids": t(ids), "labels": t(labels), "attention_mask": t(mask)}


def sequence_logps(peft_model, input_ids, labels, attention_mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sequence: the summed log-probability of its answer tokens, and how many there are."""
    causal = peft_model.get_base_model()
    hidden = causal.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    chosen = targets != IGNORE
    logits = causal.lm_head(hidden[:, :-1][chosen]).float()  # answer positions only reach the vocabulary
    token_logps = torch.gather(F.log_softmax(logits, -1), 1, targets[chosen].unsqueeze(1)).squeeze(1)
    rows = torch.arange(targets.shape[0], device=targets.device).unsqueeze(1).expand_as(targets)[chosen]
    sums = torch.zeros(targets.shape[0], device=targets.device).index_add(0, rows, token_logps)
    return sums, chosen.sum(1)


def dpo_loss(policy: torch.Tensor, reference: torch.Tensor, lengths: torch.Tensor, beta: float, sft_weight: float):
    """The loss and its figures; `policy` and `reference` hold preferred rows, then rejected ones."""
    n = policy.shape[0] // 2
    margin = beta * ((policy[:n] - reference[:n]) - (policy[n:] - reference[n:]))
    loss = -F.logsigmoid(margin).mean()
    if sft_weight:
        loss = loss + sft_weight * (-policy[:n] / lengths[:n].clamp(min=1)).mean()
    margin = margin.detach()
    return loss, {"margin": float(margin.mean()), "accuracy": float((margin > 0).float().mean())}


def _batches(pairs: list[Pair], size: int) -> list[list[Pair]]:
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


@torch.no_grad()
def reference_logps(peft_model, batches: list[list[Pair]], pad_id: int, device: torch.device) -> list[torch.Tensor]:
    peft_model.eval()
    out = [sequence_logps(peft_model, **_tensors(b, pad_id, device))[0].cpu() for b in batches]
    peft_model.train()
    return out


def _policy(model, cfg: DPOConfig, total_steps: int):
    """The trainable adapter: the SFT job's, loaded to train further, or a fresh one."""
    if cfg.reference_adapter:
        from peft import PeftModel

        if not (Path(cfg.reference_adapter) / "adapter_config.json").is_file():
            raise ProviderInputError(
                f"{cfg.reference_adapter} is not an adapter folder", fix="from_job must name a finished local job"
            )
        return PeftModel.from_pretrained(model, cfg.reference_adapter, is_trainable=True)
    config = adapters.AdapterConfig("lora", cfg.r, cfg.alpha, cfg.dropout, top_layers=cfg.top_layers)
    return adapters.wrap(model, config)[0]


def _references(store: JobStore, peft_model, batches, val_batches, pad_id: int, device) -> tuple[list, list]:
    """The reference log-probabilities, computed once (or read back after a resume)."""
    path = store.folder / "reference_logps.pt"
    if path.is_file():
        saved = torch.load(path)
        return saved["train"], saved["val"]
    started = time.perf_counter()
    train = reference_logps(peft_model, batches, pad_id, device)
    val = reference_logps(peft_model, val_batches, pad_id, device)
    torch.save({"train": train, "val": val}, path)
    store.event(
        "info", f"reference log-probabilities of {len(batches)} batches in {time.perf_counter() - started:.0f} s"
    )
    return train, val


def train_dpo(cfg: DPOConfig, store: JobStore) -> dict:
    # ---- setup: device, model, the policy adapter, pairs, optimizer -------------------------------
    device = _device(0)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    tokenizer, model = load_base(cfg.base_model, device, torch.float32)
    pairs = read_pairs(tokenizer, cfg.training_file, cfg.max_tokens)
    val_pairs = read_pairs(tokenizer, cfg.validation_file, cfg.max_tokens) if cfg.validation_file else []
    batches, val_batches = _batches(pairs, cfg.rows_per_batch), _batches(val_pairs, cfg.rows_per_batch)
    order = _schedule(len(batches), cfg.epochs, 1, cfg.seed)
    total_steps = max(1, len(order))
    peft_model = _policy(model, cfg, total_steps)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    warmup = max(1, int(cfg.warmup_ratio * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, 1 - s / total_steps)
    )
    # ---- reference: the starting policy's log-probabilities, once --------------------------------
    reference, val_reference = _references(store, peft_model, batches, val_batches, tokenizer.pad_token_id, device)
    start = _resume(store, peft_model, None, optimizer, scheduler)
    store.update(status="running", total_steps=total_steps, step=start, method="dpo", device=str(device))
    store.event(
        "info",
        f"training dpo (beta {cfg.beta}) on {device}: {len(pairs)} pairs, {total_steps} steps"
        + (f", from {cfg.reference_adapter}" if cfg.reference_adapter else ", from the base")
        + (f", resumed at step {start}" if start else ""),
    )

    # ---- train: policy log-probs, loss against the reference, step --------------------------------
    clock = last_log = time.perf_counter()
    figures: dict[str, float] = {}
    loss_value = float("nan")
    tokens = 0
    step = start
    while step < total_steps:
        if store.cancel_requested():
            _save_checkpoint(store, step, peft_model, None, optimizer, scheduler)
            store.event("warning", f"cancelled at step {step}; checkpoint kept")
            store.update(status="cancelled", step=step)
            return {"status": "cancelled", "step": step}
        index = order[step]
        inputs = _tensors(batches[index], tokenizer.pad_token_id, device)
        policy, lengths = sequence_logps(peft_model, **inputs)
        loss, figures = dpo_loss(policy, reference[index].to(device), lengths, cfg.beta, cfg.sft_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = float(loss.detach())
        tokens += int(inputs["attention_mask"].sum())
        step += 1
        now = time.perf_counter()
        if step % cfg.log_every == 0 or step == total_steps or now - last_log > 3:
            last_log = now
            elapsed = now - clock
            eta = elapsed / max(1, step - start) * (total_steps - step)
            metrics = {"loss": round(loss_value, 5), **{k: round(v, 4) for k, v in figures.items()}}
            metrics.update(tokens_per_second=round(tokens / elapsed, 1) if elapsed else None, eta_s=round(eta, 1))
            print(
                f"dpo step {step}/{total_steps}: loss {loss_value:.4f}, margin {figures['margin']:.3f}, "
                f"accuracy {figures['accuracy']:.2f}, ETA {eta:.0f} s",
                flush=True,
            )
            store.update(step=step, progress=step / total_steps, metrics=metrics)
        if step % cfg.checkpoint_every == 0 and step < total_steps:
            _save_checkpoint(store, step, peft_model, None, optimizer, scheduler)

    # ---- finish: validation figures, the adapter ---------------------------------------------------
    result: dict[str, Any] = {
        "status": "succeeded",
        "step": step,
        "loss": loss_value,
        "seconds": round(time.perf_counter() - clock, 2),
        "adapter_sha256": hashlib.sha256(b"".join(p.detach().cpu().numpy().tobytes() for p in params)).hexdigest(),
    }
    if val_batches:
        result.update(evaluate(peft_model, val_batches, val_reference, tokenizer.pad_token_id, device, cfg))
    adapters.save(peft_model, None, store.adapter)
    store.succeeded(result, cfg.base_model, loss_value)
    return result


@torch.no_grad()
def evaluate(peft_model, batches, reference, pad_id: int, device: torch.device, cfg: DPOConfig) -> dict[str, float]:
    """The validation pairs' DPO loss and the share the policy now prefers the right way round."""
    peft_model.eval()
    losses, right, total = [], 0.0, 0
    for batch, ref in zip(batches, reference, strict=True):
        policy, lengths = sequence_logps(peft_model, **_tensors(batch, pad_id, device))
        loss, figures = dpo_loss(policy, ref.to(device), lengths, cfg.beta, 0.0)
        losses.append(float(loss))
        right += figures["accuracy"] * len(batch)
        total += len(batch)
    return {"val_loss": round(sum(losses) / len(losses), 5), "val_accuracy": round(right / max(1, total), 4)}
