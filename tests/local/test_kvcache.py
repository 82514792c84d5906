"""The KV cache with room to grow holds what transformers' DynamicCache holds, step by step."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from transformers import DynamicLayer  # noqa: E402

from providers.local.kvcache import RoomyLayer  # noqa: E402


@pytest.mark.parametrize("room", [0, 3, 64])
def test_roomy_layer_matches_the_dynamic_layer_through_growth_and_rows_leaving(room):
    source = torch.Generator().manual_seed(0)
    roomy, dynamic = RoomyLayer(room), DynamicLayer()

    def both(update):
        keys, values = torch.randn(update, generator=source), torch.randn(update, generator=source)
        got, expected = roomy.update(keys, values), dynamic.update(keys.clone(), values.clone())
        assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))

    both((5, 2, 7, 4))  # a prompt: 5 rows, 2 heads, 7 positions
    for step in range(10):  # more steps than the room holds: the buffers grow
        both((roomy.keys.shape[0], 2, 1, 4))
        if step in (2, 6):  # rows leave the batch
            keep = torch.tensor([0, 2, 3] if step == 2 else [1, 2])
            roomy.batch_select_indices(keep)
            dynamic.batch_select_indices(keep)
    assert roomy.get_seq_length() == dynamic.get_seq_length() == 17
    assert torch.equal(roomy.keys, dynamic.keys) and torch.equal(roomy.values, dynamic.values)
    copied = RoomyLayer(room)
    copied.update(torch.ones(1, 2, 3, 4), torch.ones(1, 2, 3, 4))
    copied.batch_select_indices(torch.tensor([0, 0, 0]))  # one prefix copied to three rows
    copied.update(torch.zeros(3, 2, 2, 4), torch.zeros(3, 2, 2, 4))
    assert copied.keys.shape == (3, 2, 5, 4) and copied.keys[:, :, :3].eq(1).all() and copied.keys[:, :, 3:].eq(0).all()
