"""The embedded default base model: a tiny Llama and a BPE tokenizer, built from texts passed in.

Nothing is downloaded. The tokenizer is trained with `tokenizers` on the texts; the model is briefly
pre-trained (next-token prediction) on the same texts. The pipeline passes in generic bundled text (the
prompts of the catalog briefs and sample ad messages with their typical errors, see
orchestrator/corpus.py) through `providers.configure(pretraining_texts=...)` or `build(texts=...)`, so
the base writes ad-like text, errors and all, and fine-tuning on clean examples has something to fix.
Built once, cached under ADSFT_HOME. This module imports nothing of the pipeline.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from providers.errors import ProviderInputError
from providers.paths import home

VERSION = "tiny-llama-v4"
SPECIALS = ["<|pad|>", "<|bos|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] }}"
    "{% if m['role'] == 'assistant' %}{{ '<|end|>' }}{% endif %}{{ '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def _texts(texts: list[str] | None, seed: int) -> list[str]:
    if texts is None:
        from providers import context

        source = context().pretraining_texts
        if source is None:
            raise ProviderInputError(
                "the embedded tiny model is not built yet and no texts to pre-train it on were given",
                fix="run it through the adsft CLI (it passes the bundled texts in), or call build(texts=...)",
            )
        texts = source()
    texts = list(texts)
    random.Random(seed).shuffle(texts)
    return texts


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # progress never mixes with data on stdout


def build(
    folder: Path | None = None,
    steps: int = 40,
    seed: int = 0,
    log=_log,
    hidden: int = 128,
    layers: int = 4,
    vocab: int = 3000,
    texts: list[str] | None = None,
) -> Path:
    """Build (or return the cached) tiny base model folder: config, weights, tokenizer, chat template."""
    folder = folder or home() / "models" / VERSION
    if (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    started = time.perf_counter()
    torch.manual_seed(seed)
    texts = _texts(texts, seed)
    tokenizer = _tokenizer(texts, vocab)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=3 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    if steps:
        _pretrain(model, tokenizer, texts, steps, seed, log)
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "adsft.json").write_text(
        json.dumps({"version": VERSION, "pretrain_steps": steps, "seconds": round(time.perf_counter() - started, 1)})
    )
    tmp.replace(folder) if not folder.exists() else None
    return folder


def _tokenizer(texts: list[str], vocab: int):
    """The byte-level BPE tokenizer trained on the texts, with the chat template (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=SPECIALS, min_frequency=2, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|bos|>", eos_token="<|end|>", pad_token="<|pad|>", chat_template=CHAT_TEMPLATE
    )


def tokenizer_folder(seed: int = 0, vocab: int = 3000, texts: list[str] | None = None) -> Path:
    """What counting tokens needs and nothing more: the built model's folder when it exists, else the
    same tokenizer alone (trained in seconds, cached). `estimate`, `validate` and `--dry-run` never
    pre-train the model."""
    built = home() / "models" / VERSION
    if (built / "config.json").is_file() and (built / "tokenizer.json").is_file():
        return built
    folder = home() / "models" / f"{VERSION}-tokenizer"
    if (folder / "tokenizer.json").is_file():
        return folder
    tokenizer = _tokenizer(_texts(texts, seed), vocab)
    tmp = folder.with_name(folder.name + ".tmp")
    tokenizer.save_pretrained(tmp)
    tmp.replace(folder) if not folder.exists() else None
    return folder


def _pretrain(model, tokenizer, texts: list[str], steps: int, seed: int, log) -> None:
    """Next-token prediction on packed 256-token rows of the generic corpus."""
    import torch

    ids: list[int] = []
    for text in texts:
        ids.extend(
            [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        )
    rows = torch.tensor(ids[: len(ids) // 256 * 256]).view(-1, 256)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    model.train()
    started = last = time.perf_counter()
    for step in range(steps):
        batch = rows[torch.randint(len(rows), (8,), generator=generator)]
        loss = model(input_ids=batch, labels=batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        now = time.perf_counter()
        if step == 0 or step == steps - 1 or now - last > 3:  # a line every few seconds: never looks hung
            last = now
            eta = (now - started) / (step + 1) * (steps - step - 1)
            speed = (step + 1) * batch.numel() / (now - started)
            log(f"pretrain step {step + 1}/{steps}: loss {loss.item():.3f}, {speed:.0f} tokens/s, ETA {eta:.0f} s")
    model.eval()
