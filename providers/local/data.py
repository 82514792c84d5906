"""Training data for the local backend: chat examples -> token ids with the loss on the assistant's
tokens only, and padding-free packing (examples concatenated, position ids restarting at each example;
transformers turns restarting position ids into attention that does not cross examples)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    labels: list[int]  # IGNORE on prompt tokens

    @property
    def answer_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def read_chats(path: Path) -> list[list[dict]]:
    chats = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                obj = json.loads(line)
                if "messages" in obj:
                    chats.append(obj["messages"])
                else:
                    chats.append(
                        [
                            {"role": "user", "content": obj["prompt"]},
                            {"role": "assistant", "content": obj["completion"]},
                        ]
                    )
    return chats


def encode(tokenizer, chat: list[dict], max_tokens: int) -> Encoded | None:
    """The chat in the tokenizer's chat template; labels only on the final assistant turn."""
    prompt = tokenizer.apply_chat_template(chat[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(chat, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template does not render the prompt as a prefix of the full chat")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None and (not answer_ids or answer_ids[-1] != tokenizer.eos_token_id):
        answer_ids = [*answer_ids, tokenizer.eos_token_id]
    ids = prompt_ids + answer_ids
    if len(ids) > max_tokens:
        return None
    return Encoded(ids, [IGNORE] * len(prompt_ids) + answer_ids)


@dataclass(frozen=True)
class Batch:
    input_ids: list[list[int]]
    labels: list[list[int]]
    position_ids: list[list[int]]
    attention_mask: list[list[int]] | None  # None when packed
    real_tokens: int


def pack(examples: list[Encoded], tokens_per_row: int, rows_per_batch: int, fixed_width: bool = False) -> list[Batch]:
    """First-fit packing into rows of at most `tokens_per_row` tokens, in input order (an example longer
    than that gets a row of its own). `fixed_width` pads every row of every batch to one width,
    `tokens_per_row` or the longest such example (static shapes: torch.compile does not recompile)."""
    rows: list[list[Encoded]] = []
    sizes: list[int] = []
    for ex in examples:
        for i, size in enumerate(sizes):
            if size + len(ex.ids) <= tokens_per_row:
                rows[i].append(ex)
                sizes[i] += len(ex.ids)
                break
        else:
            rows.append([ex])
            sizes.append(len(ex.ids))
    batches = []
    fixed = max([tokens_per_row, *sizes])
    for start in range(0, len(rows), rows_per_batch):
        group = rows[start : start + rows_per_batch]
        width = fixed if fixed_width else max(sum(len(e.ids) for e in row) for row in group)
        ids, labels, positions = [], [], []
        for row in group:
            r_ids = [t for e in row for t in e.ids]
            r_labels = [t for e in row for t in e.labels]
            r_pos = [p for e in row for p in range(len(e.ids))]
            pad = width - len(r_ids)
            # padding at the end of a packed row: its own "example" (positions restart), never in the loss
            ids.append(r_ids + [0] * pad)
            labels.append(r_labels + [IGNORE] * pad)
            positions.append(r_pos + list(range(pad)))
        if fixed_width:  # a short last batch gets rows of padding: every batch has the same shape
            for _ in range(rows_per_batch - len(group)):
                ids.append([0] * width)
                labels.append([IGNORE] * width)
                positions.append(list(range(width)))
        batches.append(Batch(ids, labels, positions, None, sum(sum(len(e.ids) for e in row) for row in group)))
    return batches


def pad(examples: list[Encoded], rows_per_batch: int, pad_id: int) -> list[Batch]:
    """The plain way: one example per row, right-padded to the longest in the batch."""
    batches = []
    for start in range(0, len(examples), rows_per_batch):
        group = examples[start : start + rows_per_batch]
        width = max(len(e.ids) for e in group)
        batches.append(
            Batch(
                [e.ids + [pad_id] * (width - len(e.ids)) for e in group],
                [e.labels + [IGNORE] * (width - len(e.ids)) for e in group],
                [list(range(width)) for _ in group],
                [[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in group],
                sum(len(e.ids) for e in group),
            )
        )
    return batches
