"""Local training throughput: the naive baseline and ours, side by side in one run, same model and data.

naive: padded batches, logits and cross-entropy over the full vocabulary (what a plain transformers +
       peft loop does), plain AdamW
ours:  padding-free packing (position ids restart per example), the output projection and loss only at
       answer positions, fused AdamW on CUDA, optionally torch.compile

Models are random-initialised Llama shapes (1B: hidden 2048, 16 layers, 32/8 heads, intermediate 8192,
vocab 128,256, tied embeddings; 8B: hidden 4096, 32 layers, 32/8 heads, intermediate 14,336) or the
embedded tiny model (CPU). Examples have 250-500 tokens, the answer being the last fifth. LoRA r=16 on
all linear layers, bf16 on GPUs. Prints real (non-pad) tokens/s, MFU (4 x parameters FLOPs per token
against 989 TFLOP/s bf16 on an H100) and peak memory.

    python bench/bench_train.py --preset tiny            # CPU
    python bench/bench_train.py --preset 1b --attn flex_attention --compile --ours-batch 48   # GPU
    python bench/bench_train.py --preset 8b --attn flex_attention --compile --ours-batch 16 --steps 5
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from providers.local import adapters  # noqa: E402
from providers.local.data import Encoded, pack, pad  # noqa: E402
from providers.local.train import AnswerLoss, to_device  # noqa: E402

SHAPES = {
    "1b": dict(
        hidden_size=2048,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=8192,
        vocab_size=128256,
        tie_word_embeddings=True,
    ),
    "8b": dict(
        hidden_size=4096,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=14336,
        vocab_size=128256,
        tie_word_embeddings=False,
    ),
}
PEAK_TFLOPS = 989.0


def examples(n: int, vocab: int, seed: int) -> list[Encoded]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(250, 500)
        ids = [rng.randrange(10, vocab) for _ in range(length)]
        answer = length // 5
        out.append(Encoded(ids, [-100] * (length - answer) + ids[-answer:]))
    return out


def model_for(preset: str, device: torch.device, dtype: torch.dtype, attn: str):
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if preset == "tiny":
        from orchestrator.corpus import pretraining_texts
        from providers.local.tiny import build

        return AutoModelForCausalLM.from_pretrained(str(build(texts=pretraining_texts())), dtype=dtype).to(device)
    config = LlamaConfig(**SHAPES[preset], max_position_embeddings=8192, attn_implementation=attn)
    with torch.device(device):
        return LlamaForCausalLM(config).to(dtype)


def run(preset: str, mode: str, batch: int, steps: int, warmup: int, compile_: bool, attn: str, seed: int) -> dict:
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    torch.manual_seed(seed)
    model = model_for(preset, device, dtype, attn if mode == "ours" else "sdpa")  # the baseline keeps sdpa
    params = sum(p.numel() for p in model.parameters())
    peft_model, _ = adapters.wrap(model, adapters.AdapterConfig("lora", r=16, alpha=32, dropout=0.0))
    data = examples((steps + warmup) * batch * 2, model.config.vocab_size, seed)
    if mode == "naive":
        batches = pad(data, batch, 0)
        loss_module = AnswerLoss(peft_model, None, answer_only=False)
    else:
        # rows of ~2 examples: attention cost grows with the square of a row's length
        batches = pack(data, tokens_per_row=1024, rows_per_batch=max(1, batch * 375 // 1024), fixed_width=compile_)
        loss_module = AnswerLoss(peft_model, None, answer_only=True)
    forward = torch.compile(loss_module) if compile_ else loss_module
    trainable = [p for p in loss_module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, fused=cuda and mode == "ours")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    tokens, start = 0, 0.0
    for step in range(warmup + steps):
        if step == warmup:
            if cuda:
                torch.cuda.synchronize()
            start, tokens = time.perf_counter(), 0
        b = batches[step % len(batches)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = forward(**to_device(b, device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += b.real_tokens
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    rate = tokens / seconds
    result = {
        "bench": "train",
        "preset": preset,
        "mode": mode,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "parameters": params,
        "batch_examples": batch,
        "steps": steps,
        "real_tokens_per_s": round(rate, 1),
        "loss": round(float(loss.detach()), 4),
        "compile": compile_,
        "attention": attn if mode == "ours" else "sdpa",
    }
    if cuda:
        result["mfu"] = round(4 * params * rate / (PEAK_TFLOPS * 1e12), 4)
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    del model, peft_model, optimizer
    if cuda:
        torch.cuda.empty_cache()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", choices=["tiny", "1b", "8b"], default="tiny")
    parser.add_argument("--batch", type=int, default=None, help="examples per step (naive: rows; ours: packed tokens)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--attn", default="sdpa", help="attention implementation for ours (sdpa, flex_attention)")
    parser.add_argument("--modes", default="naive,ours")
    parser.add_argument("--ours-batch", type=int, default=None, help="examples per step for ours (default: --batch)")
    args = parser.parse_args()
    batch = args.batch or {"tiny": 8, "1b": 16, "8b": 8}[args.preset]
    results = {}
    for mode in args.modes.split(","):
        size = (args.ours_batch or batch) if mode == "ours" else batch
        results[mode] = run(
            args.preset, mode, size, args.steps, args.warmup, args.compile and mode == "ours", args.attn, seed=0
        )
        print(json.dumps(results[mode]), flush=True)
    if "naive" in results and "ours" in results:
        print(
            json.dumps(
                {
                    "bench": "train",
                    "preset": args.preset,
                    "speedup": round(results["ours"]["real_tokens_per_s"] / results["naive"]["real_tokens_per_s"], 2),
                    "memory_ratio": round(
                        results["ours"].get("peak_memory_gib", 0)
                        / max(1e-9, results["naive"].get("peak_memory_gib", 1e-9)),
                        3,
                    )
                    if "peak_memory_gib" in results["ours"]
                    else None,
                }
            )
        )


if __name__ == "__main__":
    main()
