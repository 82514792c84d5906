"""Batched generation with a base model and an optional adapter: left padding, sampling parameters,
texts with token counts and latency. Used to score local models."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch


class _Heartbeat:
    """A stopping criterion that never stops: it prints a line every few seconds while a batch decodes
    (on a CPU one batch can take minutes; a log must never look hung)."""

    def __init__(self, rows: int, max_new_tokens: int, every: float = 5.0) -> None:
        self.rows, self.max_new, self.every = rows, max_new_tokens, every
        self.started = self.last = time.perf_counter()
        self.steps = 0

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        self.steps += 1
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            speed = self.steps * self.rows / (now - self.started)
            eta = (now - self.started) / self.steps * (self.max_new - self.steps)
            print(
                f"generate: token {self.steps}/{self.max_new} for {self.rows} messages, {speed:.0f} tokens/s, "
                f"ETA {eta:.0f} s at most",
                file=sys.stderr,
                flush=True,
            )
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


@dataclass(frozen=True)
class Generated:
    text: str
    tokens_in: int
    tokens_out: int
    latency_s: float
    finish_reason: str


class Generator:
    def __init__(self, base: str, adapter: str | None = None) -> None:
        from providers.local.train import _device, load_base

        self.device = _device(0)
        self.tokenizer, model = load_base(base, self.device, torch.float32)
        self.tokenizer.padding_side = "left"
        self.soft = None
        if adapter:
            from peft import PeftModel

            from providers.local.adapters import load_soft_prompt

            model = PeftModel.from_pretrained(model, adapter)
            self.soft = load_soft_prompt(Path(adapter))
        self.model = model.eval()

    @torch.no_grad()
    def generate(
        self,
        chats: list[list[dict]],
        max_new_tokens: int = 96,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int | None = None,
    ) -> list[Generated]:
        """One completion per chat, all chats in one padded batch."""
        if seed is not None:
            torch.manual_seed(seed)
        prompts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        start = time.perf_counter()
        kwargs = {
            "max_new_tokens": max_new_tokens,
            "do_sample": temperature > 0,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.tokenizer.eos_token_id,
        }
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=top_p)
        from transformers import StoppingCriteriaList

        kwargs["stopping_criteria"] = StoppingCriteriaList([_Heartbeat(len(chats), max_new_tokens)])
        if self.soft is not None:
            embeds = self.model.get_input_embeddings()(enc["input_ids"])
            soft = self.soft.to(embeds.dtype).to(self.device).unsqueeze(0).expand(embeds.shape[0], -1, -1)
            mask = torch.cat(
                [
                    torch.ones(soft.shape[:2], dtype=enc["attention_mask"].dtype, device=self.device),
                    enc["attention_mask"],
                ],
                dim=1,
            )
            out = self.model.generate(inputs_embeds=torch.cat([soft, embeds], 1), attention_mask=mask, **kwargs)
            new = out
        else:
            out = self.model.generate(**enc, **kwargs)
            new = out[:, enc["input_ids"].shape[1] :]
        latency = (time.perf_counter() - start) / max(1, len(chats))
        results = []
        for i, row in enumerate(new):
            ids = row.tolist()
            stopped = self.tokenizer.eos_token_id in ids
            if stopped:
                ids = ids[: ids.index(self.tokenizer.eos_token_id)]
            ids = [t for t in ids if t != self.tokenizer.pad_token_id]
            results.append(
                Generated(
                    self.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                    int(enc["attention_mask"][i].sum()),
                    len(ids),
                    latency,
                    "stop" if stopped else "length",
                )
            )
        return results


@cache
def generator(base: str, adapter: str | None) -> Generator:
    return Generator(base, adapter)
