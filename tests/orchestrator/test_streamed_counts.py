"""The streamed validator's batched counts (a worker thread, repeated system messages counted once, the
rendered layouts counted in batches) equal ModelTokenizer.count_chat example by example; lines the fast
JSON reader refuses are read as the standard library reads them, and a line that no tokenizer could
take is a problem with its line number, never a traceback."""

from __future__ import annotations

import json
import random

import pytest

from orchestrator.tokens import ChatCounter, resolve
from orchestrator.validate import validate

SYSTEMS = ["You write bank push notifications.", "Ты пишешь рекламные тексты для банка.", "Short, plain."]
WORDS = ["кэшбэк", "5 %", "на", "open", "an account", "today —", "$1,000", "bonus;", "iPhone", "\n\t", "", "и"]


def chats(n: int, seed: int = 3) -> list[list[dict]]:
    """Chats with and without a (repeated) system message, some with names, of varied lengths."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = lambda k: "Ad " + " ".join(rng.choices(WORDS, k=k))  # noqa: E731
        chat = [{"role": "user", "content": text(rng.randint(1, 40))}, {"role": "assistant", "content": text(9)}]
        if rng.random() < 0.3:
            chat += [{"role": "user", "content": text(3)}, {"role": "assistant", "content": text(5)}]
        if rng.random() < 0.8:
            chat.insert(0, {"role": "system", "content": rng.choice(SYSTEMS)})
        if i % 17 == 0:
            chat[-1]["name"] = "bot"
        out.append(chat)
    return out


def counted(tokenizer, examples: list[list[dict]], size: int) -> dict[int, int]:
    counter = ChatCounter(tokenizer, size=size)
    found: dict[int, int] = {}
    batches = []
    for key, chat in enumerate(examples):
        plain = all(m.keys() == {"role", "content"} for m in chat)
        batches += counter.add_alternating(key, chat) if plain else counter.add(key, chat)
    batches += counter.finish()
    for keys, totals in batches:
        found.update(zip(keys, totals.tolist(), strict=True))
    return found


@pytest.mark.parametrize(
    "model", ["gpt-4o-mini-2024-07-18", "gpt-3.5-turbo-0125", "meta-llama/Meta-Llama-3.1-8B-Instruct", "Qwen/Qwen3-8B"]
)
@pytest.mark.parametrize("size", [7, 4096])
def test_batched_counts_equal_count_chat(model, size):
    tokenizer = resolve(model)
    examples = chats(300)
    assert counted(tokenizer, examples, size) == {k: tokenizer.count_chat(c) for k, c in enumerate(examples)}


def test_a_model_folder_with_a_chat_template_is_counted_in_batches_as_one_by_one():
    tokenizer = resolve("tiny")
    assert tokenizer.layout == "template"
    examples = chats(60)
    assert counted(tokenizer, examples, 16) == {k: tokenizer.count_chat(c) for k, c in enumerate(examples)}


def test_validate_totals_and_limits_equal_the_per_example_counts(tmp_path):
    model, limit = "gpt-4o-mini-2024-07-18", 40
    tokenizer = resolve(model)
    examples = chats(5000, seed=5)
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": c}, ensure_ascii=False) + "\n" for c in examples), "utf-8")
    report = validate(path, "openai", model, limit=limit)
    each = [tokenizer.count_chat(c) for c in examples]
    stats = report.files[0]
    assert stats.tokens == sum(each) and stats.max_tokens == max(each)
    assert stats.tokens_capped == sum(min(n, limit) for n in each)
    over = [i + 1 for i, n in enumerate(each) if n > limit]
    assert stats.over_limit == len(over) > 0
    assert [i.line for i in report.issues if i.code == "too_long"] == over[:200]  # kept in line order


def test_lines_the_fast_reader_refuses_are_read_as_before(tmp_path):
    path = tmp_path / "t.jsonl"
    good = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
    lines = [
        good,
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "w": NaN}',
        '{"messages": [{"role": "user", "content": "half \\ud800 a pair"}, {"role": "assistant", "content": "x"}]}',
        '{"messages": [{"role": "user", "content": "hi"}, ',
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"text": "\xff"}\n')
    report = validate(path, "openai", "gpt-4o-mini-2024-07-18")
    found = {(i.line, i.code) for i in report.issues}
    assert (2, "extra_columns") in found  # read (NaN is JSON to Python's reader), then checked
    assert (3, "encoding") in found  # a lone surrogate: no text a tokenizer or a provider could take
    assert (4, "invalid_json") in found and (5, "encoding") in found
    assert report.files[0].examples == 2


def test_an_example_the_chat_template_refuses_is_a_problem_on_its_line(tmp_path):
    path = tmp_path / "t.jsonl"
    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    tool = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"id": "1"}]}]}
    path.write_text(json.dumps(ok) + "\n" + json.dumps(tool) + "\n", encoding="utf-8")
    report = validate(path, "local", "tiny")
    assert [(i.line, i.code) for i in report.issues if i.level == "error"] == [(2, "chat_template")]
    assert report.files[0].tokens == resolve("tiny").count_chat(ok["messages"])
