"""Batched generation with a base model and an optional adapter, used to score local models.

The prompts are rendered and tokenized together, sorted by length and cut into buckets of similar
lengths (little padding). Each bucket is decoded by one loop: the prompt is run once (a prefix its rows
share, such as the system message, once for all of them: providers/local/prefix.py), then one token per
step against the kept KV cache (with room to grow: providers/local/kvcache.py). Rows that have finished
(their end token) leave the batch and the cache once they are DROP_SHARE of it, so the last steps run
only for the rows still writing. Sampling (temperature, nucleus) is done for the whole batch at once,
with Gumbel noise from one stream per prompt seeded by `seed` and the prompt, so the same prompts and
seed give the same texts batched or one by one, whichever rows finish first.
On CUDA the model uses PyTorch's scaled-dot-product (flash) attention.
"""

from __future__ import annotations

import sys
import time
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from providers.local import prefix

MAX_ROWS = 64  # rows decoded together in one bucket
SPREAD = 2.0  # a bucket's longest prompt is at most this many times its shortest (or MIN_ROWS are filled)
MIN_ROWS = 8
DROP_SHARE = 0.25  # finished rows leave the batch (a copy of its cache) once they are this share of it


class _Heartbeat:
    """A progress line every few seconds while buckets decode (on a CPU this can take minutes; a log must
    never look hung)."""

    def __init__(self, rows: int, max_new_tokens: int, every: float = 5.0) -> None:
        self.rows, self.max_new, self.every = rows, max_new_tokens, every
        self.started = self.last = time.perf_counter()
        self.tokens = 0

    def step(self, number: int, tokens: int, done_rows: int) -> None:
        """Step `number` (1-based) of a bucket wrote `tokens` tokens; `done_rows` messages are finished."""
        self.tokens += tokens
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            print(
                f"generate: token {number}/{self.max_new} for {self.rows} messages, {done_rows} done, "
                f"{self.tokens / max(now - self.started, 1e-9):.0f} tokens/s",
                file=sys.stderr,
                flush=True,
            )


@dataclass(frozen=True)
class Generated:
    text: str
    tokens_in: int
    tokens_out: int
    latency_s: float
    finish_reason: str


def buckets(lengths: list[int], max_rows: int = MAX_ROWS) -> list[list[int]]:
    """Row indices grouped by prompt length: sorted, at most `max_rows` a bucket, a new bucket when the
    next prompt is over SPREAD times the bucket's shortest (once the bucket holds MIN_ROWS)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        if (
            group is None
            or len(group) >= max_rows
            or (len(group) >= MIN_ROWS and lengths[i] > SPREAD * max(1, lengths[group[0]]))
        ):
            groups.append([i])
        else:
            group.append(i)
    return groups


def sample(logits: torch.Tensor, temperature: float, top_p: float, noise: torch.Tensor | None) -> torch.Tensor:
    """One token per row: the most likely one when temperature is 0; else a draw from the tempered
    distribution cut to its top-p nucleus, by the Gumbel-max trick on the given uniform noise (one value
    per row and vocabulary entry).

    The nucleus is the most likely tokens, in order, until their mass passes top_p: a token is in it when
    the tokens more likely than it hold at most top_p. Nothing is sorted: the perturbed maximum over the
    whole vocabulary is taken, and where that token lies outside the nucleus, it and every token no more
    likely than it (all outside too) are struck out and the maximum taken again. The token drawn is the
    one a sort would give (the maximum over the nucleus); a row's draw falls outside its nucleus with
    less than 1 - top_p chance, so a batch takes a few passes, each a few operations over it."""
    if temperature <= 0 or noise is None:
        return logits.argmax(-1)
    scores = logits.float() / temperature
    perturbed = scores - torch.log(-torch.log(noise.clamp_(1e-10, 1.0 - 1e-7)))
    if top_p >= 1.0:
        return perturbed.argmax(-1)
    probs = scores.softmax(-1)
    while True:
        chosen = perturbed.argmax(-1, keepdim=True)
        chance = probs.gather(-1, chosen)
        weaker = probs <= chance
        outside = probs.masked_fill(weaker, 0.0).sum(-1, keepdim=True) > top_p  # more likely ones hold > top_p
        if not bool(outside.any()):
            return chosen.squeeze(-1)
        perturbed = perturbed.masked_fill(weaker & outside, float("-inf"))


class _RowNoise:
    """Uniform noise for sampling, one stream per prompt: a row's stream is seeded by ``seed``, its prompt's
    tokens and which copy of that prompt it is in the call (fresh entropy when ``seed`` is None). A row
    draws the same noise at every step whatever the batch holds, so a prompt writes the same text batched
    or alone and whichever rows finish first, and rows that have left draw nothing. numpy's PCG64 fills a
    row's draw; 64 rows cost less than one 64 x vocabulary draw from PyTorch's CPU generator, which was a
    sixth of a batched decode step of the tiny model."""

    def __init__(self, streams: list[np.random.Generator]) -> None:
        self.streams = streams

    @classmethod
    def for_prompts(cls, prompts: list[list[int]], seed: int | None) -> _RowNoise:
        copies: dict[tuple[int, ...], int] = {}
        streams = []
        for ids in prompts:
            key = tuple(ids)
            copy = copies[key] = copies.get(key, -1) + 1
            entropy = None if seed is None else [seed % 2**64, copy, zlib.crc32(np.asarray(ids, np.int64).tobytes())]
            streams.append(np.random.Generator(np.random.PCG64(entropy)))
        return cls(streams)

    def of(self, rows: list[int]) -> _RowNoise:
        """The streams of some of the prompts (a bucket's), in that order."""
        return _RowNoise([self.streams[i] for i in rows])

    def uniform(self, rows: list[int], columns: int, device: torch.device) -> torch.Tensor:
        """A (len(rows), columns) draw: the next values of each row's stream."""
        out = np.empty((len(rows), columns), dtype=np.float32)
        for slot, row in enumerate(rows):
            self.streams[row].random(out=out[slot], dtype=np.float32)
        return torch.from_numpy(out).to(device)


class Generator:
    def __init__(self, base: str, adapter: str | None = None) -> None:
        from providers.local.train import _device, load_base

        self.device = _device(0)
        attention = "sdpa" if self.device.type == "cuda" else None
        self.tokenizer, model = load_base(base, self.device, torch.float32, attention=attention)
        self.soft = None
        if adapter:
            from peft import PeftModel

            from providers.local.adapters import load_soft_prompt

            model = PeftModel.from_pretrained(model, adapter)
            self.soft = load_soft_prompt(Path(adapter))
        self.model = model.eval()
        self.pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.eos = self.tokenizer.eos_token_id
        self.threads: int | None = None  # CPU threads for decoding, measured on first use
        self.min_prefix = prefix.MIN_PREFIX  # shared prompt prefixes shorter than this are run with each row

    def _decode_threads(self) -> int:
        """On a CPU, the faster of PyTorch's thread count and one thread for decode-sized matrix products:
        a decode step is many small products, and on a busy or small machine the threads' hand-offs can
        cost more than they save (measured once, on this machine, with this model's width)."""
        if self.threads is None:
            configured = torch.get_num_threads()
            self.threads = configured
            if self.device.type == "cpu" and configured > 1:
                width = self.model.get_input_embeddings().weight.shape[1]
                x, w = torch.randn(MAX_ROWS, width), torch.randn(4 * width, width)
                timings = {}
                for threads in (configured, 1):
                    torch.set_num_threads(threads)
                    torch.nn.functional.linear(x, w)
                    start = time.perf_counter()
                    for _ in range(20):
                        torch.nn.functional.linear(x, w)
                    timings[threads] = time.perf_counter() - start
                torch.set_num_threads(configured)
                self.threads = min(timings, key=timings.__getitem__)
        return self.threads

    @torch.no_grad()
    def generate(
        self,
        chats: list[list[dict]],
        max_new_tokens: int = 96,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int | None = None,
    ) -> list[Generated]:
        """One completion per chat, in the order of `chats`."""
        prompts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
        encoded = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        streams = _RowNoise.for_prompts(encoded, seed) if temperature > 0 else None
        heartbeat = _Heartbeat(len(chats), max_new_tokens)
        outputs: list[tuple[list[int], bool, float]] = [([], False, 0.0)] * len(chats)
        configured, threads = torch.get_num_threads(), self._decode_threads()
        torch.set_num_threads(threads)
        try:
            for group in buckets([len(ids) for ids in encoded]):
                start = time.perf_counter()
                rows = [encoded[i] for i in group]
                noise = streams.of(group) if streams is not None else None
                decoded = self._decode(rows, max_new_tokens, temperature, top_p, noise, heartbeat)
                latency = (time.perf_counter() - start) / len(group)
                for i, (ids, stopped) in zip(group, decoded, strict=True):
                    outputs[i] = (ids, stopped, latency)
        finally:
            torch.set_num_threads(configured)
        return [
            Generated(
                self.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                len(encoded[i]),
                len(ids),
                latency,
                "stop" if stopped else "length",
            )
            for i, (ids, stopped, latency) in enumerate(outputs)
        ]

    def _prefill(self, rows: list[list[int]], room: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, object]:
        """Run the prompts once: the last logits, the mask, the next positions and the KV cache (with room for
        `room` more tokens). Rows that share a prefix have it run once (see providers/local/prefix.py); else
        the prompts run whole."""
        shared = prefix.plan(rows, self.min_prefix)
        if shared is None:
            return self._run_prompts(rows, room)
        width = max(len(s) for s in shared.suffixes)
        _, mask, _, kv = self._run_prompts(shared.prefixes, width + room)
        index = torch.tensor(shared.group_of, device=self.device)
        kv.batch_select_indices(index)  # each row gets a copy of its group's prefix cache
        ids = torch.tensor([[self.pad] * (width - len(s)) + s for s in shared.suffixes], device=self.device)
        tail = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in shared.suffixes], device=self.device)
        mask = torch.cat([mask[index], tail], 1)  # [padding, prefix, padding, suffix] for every row
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -width:]
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, cache=kv, use_cache=True, logits_to_keep=1
        )
        return out.logits[:, -1], mask, positions[:, -1] + 1, out.past_key_values

    def _run_prompts(self, rows: list[list[int]], room: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, object]:
        """Run the left-padded prompts (after the soft prompt, if any) once; the last logits, the mask,
        the next positions and the KV cache (with room for `room` more tokens)."""
        from providers.local.kvcache import RoomyCache

        width = max(len(r) for r in rows)
        ids = torch.tensor([[self.pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        embeds = self.model.get_input_embeddings()(ids)
        if self.soft is not None:
            soft = self.soft.to(embeds.dtype).to(self.device).unsqueeze(0).expand(len(rows), -1, -1)
            embeds = torch.cat([soft, embeds], 1)
            mask = torch.cat([torch.ones(soft.shape[:2], dtype=mask.dtype, device=self.device), mask], 1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = RoomyCache(room)
        out = self.model(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1], mask, positions[:, -1] + 1, out.past_key_values

    def _decode(
        self,
        rows: list[list[int]],
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        row_noise: _RowNoise | None,
        heartbeat: _Heartbeat,
    ) -> list[tuple[list[int], bool]]:
        """Decode one bucket: a token per step for the rows still writing. Finished rows stay in the batch
        (their tokens ignored) until they are DROP_SHARE of it, then leave it and the cache together."""
        logits, mask, positions, kv = self._prefill(rows, max_new_tokens)
        texts: list[list[int]] = [[] for _ in rows]
        stopped = [False] * len(rows)
        active = list(range(len(rows)))  # the bucket's row in each batch slot, in batch order
        finished = 0  # rows in the batch that have finished
        for step in range(max_new_tokens):
            noise = None
            if row_noise is not None:
                noise = row_noise.uniform(active, logits.shape[-1], self.device)
            chosen = sample(logits, temperature, top_p, noise)
            writing = len(active) - finished
            for row, token in zip(active, chosen.tolist(), strict=True):
                if stopped[row]:
                    continue
                if token == self.eos:
                    stopped[row] = True
                    finished += 1
                elif token != self.pad:
                    texts[row].append(token)
            heartbeat.step(step + 1, writing, sum(stopped))
            if finished == len(active):
                break
            if finished and finished >= DROP_SHARE * len(active):
                keep = [slot for slot, row in enumerate(active) if not stopped[row]]
                index = torch.tensor(keep, device=self.device)
                active, finished = [active[slot] for slot in keep], 0
                kv.batch_select_indices(index)
                mask, positions, chosen = mask[index], positions[index], chosen[index]
            if step == max_new_tokens - 1:
                break
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], 1)
            out = self.model(
                input_ids=chosen.unsqueeze(1),
                attention_mask=mask,
                position_ids=positions.unsqueeze(1),
                cache=kv,
                use_cache=True,
                logits_to_keep=1,
            )
            logits, kv, positions = out.logits[:, -1], out.past_key_values, positions + 1
        return list(zip(texts, stopped, strict=True))


@cache
def generator(base: str, adapter: str | None) -> Generator:
    return Generator(base, adapter)
