"""Batched local generation (length buckets, KV cache, finished rows dropped, sampling in the batch)
against the same prompts generated one at a time, on a real micro Llama."""

from __future__ import annotations

import pytest

from providers.local.generate import Generator, buckets, sample

CHATS = [
    [{"role": "system", "content": "Write one short ad."}, {"role": "user", "content": text}]
    for text in (
        "Card with cashback",
        "Deposit at 12% a year, open it in the app today",
        "Карта с кешбэком",
        "Вклад под 12% годовых",
        "Free delivery on every order over 1000 roubles this week only",
    )
]


@pytest.fixture(scope="module")
def micro(micro_model):
    return Generator(str(micro_model))


def test_greedy_batch_equals_one_by_one(micro):
    """Padding, the shared cache and rows leaving the batch change nothing a row writes."""
    batched = micro.generate(CHATS, max_new_tokens=12, temperature=0.0)
    single = [micro.generate([chat], max_new_tokens=12, temperature=0.0)[0] for chat in CHATS]
    assert [(r.text, r.tokens_out, r.finish_reason) for r in batched] == [
        (r.text, r.tokens_out, r.finish_reason) for r in single
    ]
    assert all(r.tokens_in > 0 and r.tokens_out <= 12 for r in batched)


def test_sampling_is_reproducible_under_a_seed(micro):
    first = micro.generate(CHATS, max_new_tokens=16, temperature=1.0, seed=7)
    again = micro.generate(CHATS, max_new_tokens=16, temperature=1.0, seed=7)
    other = micro.generate(CHATS, max_new_tokens=16, temperature=1.0, seed=8)
    assert [r.text for r in first] == [r.text for r in again]
    assert [r.text for r in first] != [r.text for r in other]


def test_buckets_group_similar_lengths_and_keep_every_row():
    lengths = [5, 100, 6, 101, 7, 8, 9, 10, 11, 12, 102]
    groups = buckets(lengths, max_rows=4)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(len(g) <= 4 for g in groups)
    assert all(max(lengths[i] for i in g) <= 2 * min(lengths[i] for i in g) for g in groups)


def test_nucleus_sampling_never_draws_outside_the_nucleus():
    import torch

    logits = torch.tensor([[5.0, 4.0, -10.0, -10.0]]).repeat(200, 1)
    noise = torch.rand(200, 4, generator=torch.Generator().manual_seed(0))
    drawn = sample(logits, temperature=1.0, top_p=0.5, noise=noise)
    assert set(drawn.tolist()) == {0}  # token 0 alone holds over half the mass
    drawn = sample(logits, temperature=1.0, top_p=0.99, noise=noise.clone())
    assert set(drawn.tolist()) == {0, 1}
    assert sample(logits[:1], temperature=0.0, top_p=0.9, noise=None).tolist() == [0]
