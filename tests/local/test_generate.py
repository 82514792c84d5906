"""Batched local generation (length buckets, KV cache, finished rows dropped, sampling in the batch)
against the same prompts generated one at a time, on a real micro Llama."""

from __future__ import annotations

import pytest

from providers.local import prefix
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


def test_sampled_batch_equals_one_by_one_under_a_seed(micro):
    """Each prompt draws its own noise: batched, alone or beside another copy of itself, a prompt writes
    the same text under one seed, and two copies of one prompt write different texts."""
    chats = [*CHATS, CHATS[0]]
    batched = micro.generate(chats, max_new_tokens=16, temperature=1.0, seed=3)
    single = [micro.generate([chat], max_new_tokens=16, temperature=1.0, seed=3)[0] for chat in CHATS]
    assert [r.text for r in batched[: len(CHATS)]] == [r.text for r in single]
    assert batched[-1].text != batched[0].text


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


SYSTEM = {
    "en": "You write advertising messages for a bank and an online store. Be short and concrete, one call to action.",
    "ru": "Ты пишешь рекламные сообщения для банка и интернет-магазина. Пиши коротко и конкретно.",
}
SHARED_CHATS = [
    [{"role": "system", "content": SYSTEM[lang]}, {"role": "user", "content": text}]
    for lang, text in (
        ("en", "Card with cashback"),
        ("ru", "Карта с кешбэком"),
        ("en", "Deposit at 12% a year, open it in the app today"),
        ("ru", "Вклад под 12% годовых, откройте в приложении"),
        ("en", "Free delivery on every order over 1000 roubles this week only"),
        ("ru", "Бесплатная доставка"),
    )
] + [[{"role": "user", "content": "A loan with no fees"}]]  # shares only the first tokens with the rest


def _encoded(generator, chats):
    prompts = [generator.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    return generator.tokenizer(prompts, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("soft_prompt", [False, True])
def test_greedy_with_shared_prefixes_equals_without(micro, soft_prompt):
    """Two groups share their system message and a third prompt shares nothing: running each group's prefix
    once and its rows' suffixes after it writes the same tokens as running every prompt whole."""
    import torch

    shared = prefix.plan(_encoded(micro, SHARED_CHATS), micro.min_prefix)
    assert shared is not None and len(shared.prefixes) == 3
    assert sorted(shared.group_of.count(g) for g in range(3)) == [1, 3, 3]
    if soft_prompt:
        width = micro.model.get_input_embeddings().weight.shape[1]
        micro.soft = torch.randn(4, width, generator=torch.Generator().manual_seed(3))
    try:
        with_sharing = micro.generate(SHARED_CHATS, max_new_tokens=16, temperature=0.0)
        micro.min_prefix = 10**9
        without = micro.generate(SHARED_CHATS, max_new_tokens=16, temperature=0.0)
        sampled_without = micro.generate(SHARED_CHATS, max_new_tokens=16, temperature=1.0, seed=5)
        micro.min_prefix = prefix.MIN_PREFIX
        sampled_with = micro.generate(SHARED_CHATS, max_new_tokens=16, temperature=1.0, seed=5)
    finally:
        micro.soft, micro.min_prefix = None, prefix.MIN_PREFIX
    assert [(r.text, r.tokens_in, r.tokens_out) for r in with_sharing] == [
        (r.text, r.tokens_in, r.tokens_out) for r in without
    ]
    assert [r.text for r in sampled_with] == [r.text for r in sampled_without]
    assert any(r.tokens_out > 0 for r in with_sharing)


def test_prefill_with_shared_prefixes_gives_the_logits_and_positions_of_whole_prompts(micro):
    """Closer than the texts: the first reply token's logits and each row's next position are the same
    whether the prompts run whole or their prefixes run once."""
    import torch

    rows = _encoded(micro, SHARED_CHATS)
    with torch.no_grad():
        shared_logits, _, shared_next, _ = micro._prefill(rows, 4)
        micro.min_prefix = 10**9
        try:
            whole_logits, _, whole_next, _ = micro._prefill(rows, 4)
        finally:
            micro.min_prefix = prefix.MIN_PREFIX
    assert shared_next.tolist() == whole_next.tolist() == [len(r) for r in rows]
    assert torch.allclose(shared_logits, whole_logits, atol=1e-5, rtol=1e-5)


def test_prefix_plan_covers_every_row_and_skips_what_saves_little():
    common = list(range(100, 130))
    rows = [[*common, 1, 2, 3], [*common, 4], [*common, 5, 6], [7] * 20, [*common[:20], 8]]
    shared = prefix.plan(rows, min_prefix=16)
    assert shared is not None
    for row, group, suffix in zip(rows, shared.group_of, shared.suffixes, strict=True):
        assert shared.prefixes[group] + suffix == row and suffix
    assert [len(shared.prefixes[g]) for g in shared.group_of] == [20, 20, 20, 19, 20]
    assert prefix.plan([[1] * 30, [2] * 30, [3] * 30], min_prefix=16) is None  # nothing shared
    assert prefix.plan([[*common, 1], [*common, 2]], min_prefix=40) is None  # shared, but shorter than asked
    assert prefix.plan([common], min_prefix=16) is None  # one row


def _nucleus_by_sorting(logits, temperature, top_p, noise):
    """The textbook draw: sort, keep the most likely tokens until their mass passes top_p, Gumbel-max."""
    import torch

    scores = logits.float() / temperature
    ordered, ids = scores.sort(-1, descending=True)
    probs = ordered.softmax(-1)
    outside = probs.cumsum(-1) - probs > top_p
    gumbel = -torch.log(-torch.log(noise.clamp(1e-10, 1.0 - 1e-7))).gather(-1, ids)
    return ids.gather(-1, (ordered.masked_fill(outside, float("-inf")) + gumbel).argmax(-1, keepdim=True)).squeeze(-1)


@pytest.mark.parametrize("top_p", [0.3, 0.9, 0.95, 0.999])
def test_nucleus_draw_equals_the_sorted_nucleus_draw(top_p):
    import torch

    source = torch.Generator().manual_seed(11)
    flat, peaked = torch.randn(300, 500, generator=source), 6 * torch.randn(300, 500, generator=source)
    for logits in (flat, peaked):
        noise = torch.rand(logits.shape, generator=source)
        expected = _nucleus_by_sorting(logits, 0.8, top_p, noise)
        assert sample(logits, 0.8, top_p, noise.clone()).tolist() == expected.tolist()
