"""Parameter-efficient adapters for the local trainer, one function per method.

- lora: LoRA on all linear layers (peft `target_modules="all-linear"`)
- dora: weight-decomposed LoRA (peft `use_dora=True`)
- adalora: dynamic rank — starts at `init_r` and lets the rank budget fall to `r` while training; the
  trainer calls `update_and_allocate(step)` after every optimizer step
- prompt_lora: prompt tuning combined with LoRA in one model: `n_virtual` trainable soft-prompt vectors
  are prepended to every example's input embeddings (a small module of ours, saved beside the adapter
  as `soft_prompt.safetensors`), and the LoRA adapter trains with them in the same optimizer
- qlora: LoRA over a 4-bit base (needs bitsandbytes and a GPU)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from providers.errors import ProviderInputError
from providers.local.defaults import LORA


@dataclass(frozen=True)
class AdapterConfig:
    method: str = "lora"
    r: int = LORA["r"]
    alpha: float = LORA["alpha"]
    dropout: float = LORA["dropout"]
    target_modules: str = LORA["target_modules"]
    top_layers: int | None = None  # adapt only the last N decoder layers: backward stops there (CPU speed)
    n_virtual: int = 8  # prompt_lora: soft-prompt length
    total_steps: int = 100  # adalora: its schedule needs the run length


class SoftPrompt(nn.Module):
    """Trainable virtual tokens prepended to the input embeddings."""

    def __init__(self, n_virtual: int, hidden: int, init: torch.Tensor | None = None) -> None:
        super().__init__()
        weight = init.clone() if init is not None else torch.randn(n_virtual, hidden) * 0.02
        self.weight = nn.Parameter(weight)

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.weight.unsqueeze(0).expand(embeds.shape[0], -1, -1).to(embeds.dtype), embeds], dim=1)


def wrap(model, config: AdapterConfig):
    """The model with a trainable adapter, and a SoftPrompt (prompt_lora) or None."""
    from peft import AdaLoraConfig, LoraConfig, get_peft_model

    layers: dict = {"target_modules": config.target_modules}
    if config.top_layers:  # frozen layers below need no graph: autograd stops at the first adapted layer
        total = model.config.num_hidden_layers
        first = model.get_decoder().layers[0]
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in first.named_modules() if isinstance(m, nn.Linear)})
        layers = {
            "target_modules": linear,
            "layers_to_transform": list(range(max(0, total - config.top_layers), total)),
            "layers_pattern": "layers",
        }
    if config.method in ("lora", "dora", "qlora", "prompt_lora"):
        peft_config = LoraConfig(
            r=config.r,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            use_dora=config.method == "dora",
            task_type="CAUSAL_LM",
            **layers,
        )
    elif config.method == "adalora":
        peft_config = AdaLoraConfig(
            init_r=max(config.r * 2, config.r + 4),
            target_r=config.r,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            total_step=max(config.total_steps, 10),
            tinit=max(1, config.total_steps // 10),
            tfinal=max(1, config.total_steps // 5),
            deltaT=1,
            task_type="CAUSAL_LM",
            **layers,
        )
    else:
        raise ProviderInputError(
            f"unknown local method {config.method!r}", fix="use lora, dora, adalora, prompt_lora or qlora"
        )
    peft_model = get_peft_model(model, peft_config)
    soft = None
    if config.method == "prompt_lora":
        embeddings = model.get_input_embeddings().weight
        init = embeddings[torch.randint(len(embeddings), (config.n_virtual,))].detach()
        soft = SoftPrompt(config.n_virtual, embeddings.shape[1], init).to(embeddings.device)
    return peft_model, soft


def rank_budget(peft_model) -> int | None:
    """AdaLoRA's current total rank (None for other methods)."""
    total = 0
    found = False
    for _name, module in peft_model.named_modules():
        mask = getattr(module, "ranknum", None)
        if mask is not None and hasattr(module, "lora_E"):
            for key in module.lora_E:
                found = True
                total += int((module.lora_E[key] != 0).sum().item())
    return total if found else None


def save(peft_model, soft: SoftPrompt | None, folder: Path) -> None:
    """A standard PEFT adapter folder (adapter_config.json, adapter_model.safetensors)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model = getattr(peft_model, "module", peft_model)  # unwrap DDP
    model.save_pretrained(str(folder))
    if soft is not None:
        save_file({"weight": soft.weight.detach().cpu().contiguous()}, str(folder / "soft_prompt.safetensors"))


def load_soft_prompt(folder: Path) -> torch.Tensor | None:
    path = folder / "soft_prompt.safetensors"
    if not path.is_file():
        return None
    from safetensors.torch import load_file

    return load_file(str(path))["weight"]
