"""The local trainer, a recipe to read top to bottom: setup -> train -> finish.

Speed levers (on by default): padding-free packing, the output projection and cross-entropy computed
only at answer positions, bf16 on GPUs that support it, the fused AdamW on CUDA, flex attention for
packed rows on CUDA, and torch.compile on CUDA for models of 100M+ parameters (rows padded to a fixed
width so shapes stay static). The naive path (padded batches, loss over the full vocabulary, what a plain
transformers + peft loop does) is the same code with `packing=False, answer_only=False`, so the
benchmark compares like with like. Runs unchanged under torchrun / accelerate (DDP): no hard-coded
device, only rank 0 writes, the learning rate is for the global batch.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from providers.errors import ProviderInputError
from providers.local import adapters
from providers.local.data import IGNORE, Batch, encode, pack, pad, read_chats
from providers.local.defaults import LORA, TRAINING
from providers.local.jobstore import JobStore
from providers.local.spike import SpikeGuard


@dataclass
class TrainConfig:
    base_model: str
    training_file: str
    validation_file: str | None = None
    method: str = TRAINING["method"]
    r: int = LORA["r"]
    alpha: float = LORA["alpha"]
    dropout: float = LORA["dropout"]
    top_layers: int | None = None  # LoRA on the last N decoder layers only (None: all layers)
    epochs: int = TRAINING["epochs"]
    learning_rate: float = TRAINING["learning_rate"]
    warmup_ratio: float = 0.05
    tokens_per_row: int = 1024
    rows_per_batch: int = 8
    max_tokens: int = 1024
    checkpoint_every: int = 50
    log_every: int = 5
    seed: int = 0
    packing: bool = True
    answer_only: bool = True
    compile: bool | None = None  # None: on for CUDA and models of 100M+ parameters (fixed-width rows then)
    attention: str | None = None  # None: flex_attention on CUDA when packing (no cross-example attention), else sdpa
    gradient_checkpointing: bool = False
    spike_factor: float = 4.0


class AnswerLoss(nn.Module):
    """Forward of the adapted model returning the mean loss over answer tokens; DDP wraps this."""

    def __init__(self, peft_model, soft: adapters.SoftPrompt | None, answer_only: bool) -> None:
        super().__init__()
        self.peft_model = peft_model
        self.soft = soft
        self.answer_only = answer_only

    def forward(self, input_ids, labels, position_ids, attention_mask=None):
        causal = self.peft_model.get_base_model()
        embeds = causal.get_input_embeddings()(input_ids)
        if self.soft is not None:  # prompt_lora: virtual tokens first (rows are never packed then)
            n = self.soft.weight.shape[0]
            embeds = self.soft(embeds)
            labels = F.pad(labels, (n, 0), value=IGNORE)
            position_ids = torch.arange(embeds.shape[1], device=embeds.device).expand(embeds.shape[0], -1)
            if attention_mask is not None:
                attention_mask = F.pad(attention_mask, (n, 0), value=1)
        if not self.answer_only:  # the naive path: logits and loss over every position
            out = causal(
                inputs_embeds=embeds,
                attention_mask=attention_mask,
                position_ids=position_ids,
                labels=labels,
                use_cache=False,
            )
            return out.loss
        hidden = causal.model(
            inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        ).last_hidden_state
        targets = labels[:, 1:]
        chosen = targets != IGNORE
        logits = causal.lm_head(hidden[:, :-1][chosen])  # only answer positions reach the vocabulary
        return F.cross_entropy(logits.float(), targets[chosen])


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return rank, world


def _device(rank: int) -> torch.device:
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def _four_bit(device: torch.device, dtype: torch.dtype):
    """QLoRA's base: 4-bit NF4 weights (bitsandbytes, CUDA only)."""
    import importlib.util

    if device.type != "cuda" or importlib.util.find_spec("bitsandbytes") is None:
        raise ProviderInputError(
            "QLoRA needs a CUDA GPU and the bitsandbytes package",
            fix="pip install bitsandbytes on a GPU machine, or use method lora",
        )
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
    )


def load_base(
    name: str, device: torch.device, dtype: torch.dtype, attention: str | None = None, quantize_4bit: bool = False
):
    """A tokenizer and causal LM from a local folder (or a hub id when online); "tiny" is the embedded default."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from providers.local import resolve_model

    name = resolve_model(name)  # "tiny": the embedded base, built once and cached
    path = Path(name)
    if path.exists() and not (path / "config.json").is_file():
        raise ProviderInputError(
            f"{name} is not a Hugging Face model folder (no config.json)",
            fix="pass a folder with config.json, weights and tokenizer files, or `tiny`",
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        extra: dict = {"attn_implementation": attention} if attention else {}
        if quantize_4bit:
            extra["quantization_config"] = _four_bit(device, dtype)
            extra["device_map"] = {"": device.index or 0}
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, **extra)
        if quantize_4bit:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        else:
            model = model.to(device)
    except OSError as exc:
        raise ProviderInputError(
            f"cannot load model {name!r}: {exc}", fix="use a local model folder; hub ids need the machine to be online"
        ) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        from providers.local.tiny import CHAT_TEMPLATE

        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer, model


def make_batches(tokenizer, path: str, cfg: TrainConfig, packing: bool, fixed: bool = False) -> tuple[list[Batch], int]:
    examples = [e for chat in read_chats(Path(path)) if (e := encode(tokenizer, chat, cfg.max_tokens)) is not None]
    skipped = 0
    if not examples:
        raise ProviderInputError(f"{path}: no example fits in {cfg.max_tokens} tokens", fix="raise max_tokens")
    batches = (
        pack(examples, cfg.tokens_per_row, cfg.rows_per_batch, fixed_width=fixed)
        if packing
        else pad(examples, cfg.rows_per_batch, tokenizer.pad_token_id)
    )
    return batches, skipped


def to_device(batch: Batch, device: torch.device) -> dict[str, torch.Tensor | None]:
    t = lambda x: torch.tensor(x, device=device)  # noqa: E731
    return {
        "input_ids": t(batch.input_ids),
        "labels": t(batch.labels),
        "position_ids": t(batch.position_ids),
        "attention_mask": t(batch.attention_mask) if batch.attention_mask is not None else None,
    }


def _schedule(epoch_batches: int, epochs: int, world: int, seed: int) -> list[int]:
    """The order batches are visited in: shuffled per epoch with the seed; each step takes `world` batches."""
    order = []
    for epoch in range(epochs):
        idx = list(range(epoch_batches))
        random.Random(seed + epoch).shuffle(idx)
        order.extend(idx[: epoch_batches // world * world])
    return order


def _save_checkpoint(store: JobStore, step: int, peft_model, soft, optimizer, scheduler) -> Path:
    folder = store.checkpoints / f"step-{step}"
    tmp = store.checkpoints / f".step-{step}.tmp"
    adapters.save(peft_model, soft, tmp)
    torch.save(
        {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
        },
        tmp / "trainer_state.pt",
    )
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.replace(folder)
    return folder


def _resume(store: JobStore, peft_model, soft, optimizer, scheduler) -> int:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    # newest first; a checkpoint that does not load (a kill mid-write, a bad disk) is skipped with a warning
    found = sorted(store.checkpoints.glob("step-*"), key=lambda p: int(p.name.split("-")[1]), reverse=True)
    for last in found:
        try:
            weights = load_file(str(last / "adapter_model.safetensors"))
            state = torch.load(last / "trainer_state.pt", weights_only=False)
            set_peft_model_state_dict(peft_model, weights)
            if soft is not None:
                with torch.no_grad():
                    soft.weight.copy_(adapters.load_soft_prompt(last))
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        except Exception as exc:
            store.event("warning", f"checkpoint {last.name} is unreadable ({type(exc).__name__}); using the one before")
            continue
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        return int(state["step"])
    return 0


def train(cfg: TrainConfig, store: JobStore) -> dict:
    # ---- setup: process group, device, precision, model, adapter, data, optimizer -------------------
    rank, world = _distributed()
    writer = rank == 0
    device = _device(rank)
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    packing = cfg.packing and cfg.method != "prompt_lora"  # soft prompts need unpacked rows
    cuda = device.type == "cuda"
    attention = cfg.attention or ("flex_attention" if cuda and packing else None)
    tokenizer, model = load_base(
        cfg.base_model,
        device,
        torch.bfloat16 if bf16 else torch.float32,
        attention,
        quantize_4bit=cfg.method == "qlora",
    )
    # compiling pays off for real model sizes; for tiny models the compile time dominates a short run
    compile_ = (
        (cuda and sum(p.numel() for p in model.parameters()) >= 100_000_000) if cfg.compile is None else cfg.compile
    )
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    batches, _ = make_batches(tokenizer, cfg.training_file, cfg, packing, fixed=compile_ and packing)
    order = _schedule(len(batches), cfg.epochs, world, cfg.seed)
    total_steps = max(1, len(order) // world)
    config = adapters.AdapterConfig(
        cfg.method, cfg.r, cfg.alpha, cfg.dropout, top_layers=cfg.top_layers, total_steps=total_steps
    )
    peft_model, soft = adapters.wrap(model, config)
    module: nn.Module = AnswerLoss(peft_model, soft, cfg.answer_only)
    if world > 1:
        module = nn.parallel.DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        )
    forward = torch.compile(module) if compile_ else module
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0, fused=device.type == "cuda")
    warmup = max(1, int(cfg.warmup_ratio * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / max(1, total_steps)) if s >= warmup else (s + 1) / warmup
        ),
    )
    start = _resume(store, peft_model, soft, optimizer, scheduler)
    guard = SpikeGuard(params, optimizer, factor=cfg.spike_factor)
    if writer:
        store.update(
            status="running",
            total_steps=total_steps,
            step=start,
            method=cfg.method,
            trainable_parameters=sum(p.numel() for p in params),
            device=str(device),
            world_size=world,
        )
        store.event(
            "info",
            f"training {cfg.method} on {device} x{world}: {len(batches)} batches per epoch, "
            f"{total_steps} steps" + (f", resumed at step {start}" if start else ""),
        )

    # ---- train: forward, guard, backward, guard, step ---------------------------------------------
    tokens = 0
    clock = time.perf_counter()
    last_log = clock
    loss_value = float("nan")
    step = start
    while step < total_steps:
        if store.cancel_requested():
            if writer:
                _save_checkpoint(store, step, peft_model, soft, optimizer, scheduler)
                store.event("warning", f"cancelled at step {step}; checkpoint kept")
                store.update(status="cancelled", step=step)
            return {"status": "cancelled", "step": step}
        batch = batches[order[step * world + rank]]
        inputs = to_device(batch, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = forward(**inputs)
        loss_value = float(loss.detach())
        reason = guard.check_loss(loss_value)
        if reason is None:
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
            reason = guard.check_grad(norm)
        if reason is not None:  # roll back, skip this batch, lower the learning rate
            lr = guard.rollback(scheduler)
            if writer:
                store.event(
                    "warning",
                    f"loss spike at step {step}: {reason}; rolled back, batch skipped",
                    step=step,
                    new_learning_rate=lr,
                )
            step += 1
            continue
        optimizer.step()
        scheduler.step()
        if cfg.method == "adalora":  # dynamic rank: reallocate the budget every step
            peft_model.base_model.update_and_allocate(step)
        optimizer.zero_grad(set_to_none=True)
        guard.accept(loss_value, norm)
        tokens += batch.real_tokens * world
        step += 1
        if step % 10 == 0:
            guard.take_snapshot()
        now = time.perf_counter()
        # a line every few seconds at most, however long a step takes: a log never looks hung
        if writer and (step % cfg.log_every == 0 or step == total_steps or now - last_log > 3):
            last_log = now
            elapsed = now - clock
            eta = elapsed / max(1, step - start) * (total_steps - step)
            metrics = {
                "loss": round(loss_value, 5),
                "learning_rate": scheduler.get_last_lr()[0],
                "tokens_per_second": round(tokens / elapsed, 1) if elapsed else None,
                "eta_s": round(eta, 1),
            }
            print(
                f"train step {step}/{total_steps}: loss {loss_value:.4f}, {metrics['tokens_per_second']} tokens/s, "
                f"ETA {eta:.0f} s",
                flush=True,
            )
            budget = adapters.rank_budget(peft_model)
            if budget is not None:
                metrics["rank_budget"] = budget
            store.update(step=step, progress=step / total_steps, metrics=metrics)
        if writer and step % cfg.checkpoint_every == 0 and step < total_steps:
            _save_checkpoint(store, step, peft_model, soft, optimizer, scheduler)
            store.event("info", f"checkpoint at step {step}")

    # ---- finish: agreement across ranks, validation loss, the adapter ------------------------------
    digest = hashlib.sha256(b"".join(p.detach().float().cpu().numpy().tobytes() for p in params)).hexdigest()
    identical = True
    if world > 1:
        digests: list[str | None] = [None] * world
        torch.distributed.all_gather_object(digests, digest)
        identical = len(set(digests)) == 1
    result = {
        "status": "succeeded",
        "step": step,
        "loss": loss_value,
        "adapter_sha256": digest,
        "ranks_identical": identical,
        "seconds": round(time.perf_counter() - clock, 2),
        "tokens_per_second": round(tokens / max(1e-9, time.perf_counter() - clock), 1),
    }
    if writer:
        if cfg.validation_file:
            result["val_loss"] = evaluate(module, tokenizer, cfg, device, bf16)
        adapters.save(peft_model, soft, store.adapter)
        store.succeeded(result, cfg.base_model, loss_value)
    if world > 1:
        torch.distributed.barrier()
    return result


@torch.no_grad()
def evaluate(module: nn.Module, tokenizer, cfg: TrainConfig, device: torch.device, bf16: bool) -> float:
    batches, _ = make_batches(tokenizer, cfg.validation_file or "", cfg, cfg.packing and cfg.method != "prompt_lora")
    losses = []
    inner = getattr(module, "module", module)
    for batch in batches:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            losses.append(float(inner(**to_device(batch, device))))
    return round(sum(losses) / max(1, len(losses)), 5) if losses and all(map(math.isfinite, losses)) else float("nan")


def config_dict(cfg: TrainConfig) -> dict:
    return asdict(cfg)
