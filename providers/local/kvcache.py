"""A KV cache whose layers keep their keys and values in buffers with room to grow.

transformers' DynamicCache concatenates a step's keys and values onto the whole cache, a copy of all of
it at every step and layer; with 64 rows on a CPU that copy was most of a decode step. Here a step
writes its column into the spare room in place and the layer's keys and values are views of the filled
part; the buffers are copied only when the room runs out (they then double) or when rows leave the batch.
"""

from __future__ import annotations

import torch
from transformers import Cache, DynamicLayer


class RoomyLayer(DynamicLayer):
    """A full-attention layer's cache with `room` free positions kept after the filled ones."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room
        self.filled = 0
        self.key_buffer: torch.Tensor | None = None
        self.value_buffer: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.filled + key_states.shape[-2]
        if self.key_buffer is None or end > self.key_buffer.shape[-2]:
            self._grow(key_states, value_states, max(end + self.room, 2 * self.filled))
        self.key_buffer[..., self.filled : end, :] = key_states
        self.value_buffer[..., self.filled : end, :] = value_states
        self.filled = end
        self._view()
        return self.keys, self.values

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, length: int) -> None:
        keys = key_states.new_empty((*key_states.shape[:-2], length, key_states.shape[-1]))
        values = value_states.new_empty((*value_states.shape[:-2], length, value_states.shape[-1]))
        if self.filled:
            keys[..., : self.filled, :] = self.keys
            values[..., : self.filled, :] = self.values
        self.key_buffer, self.value_buffer = keys, values

    def _view(self) -> None:
        self.keys = self.key_buffer[..., : self.filled, :]
        self.values = self.value_buffer[..., : self.filled, :]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.filled:
            self.key_buffer, self.value_buffer = self.key_buffer[indices], self.value_buffer[indices]
            self._view()

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.filled:
            self.key_buffer = self.key_buffer.repeat_interleave(repeats, dim=0)
            self.value_buffer = self.value_buffer.repeat_interleave(repeats, dim=0)
            self._view()

    def reset(self) -> None:
        self.filled, self.key_buffer, self.value_buffer = 0, None, None
        super().reset()

    def crop(self, tokens_to_remove: int) -> None:
        super().crop(tokens_to_remove)
        if self.is_initialized and self.keys is not None:
            self.filled = self.keys.shape[-2]


class RoomyCache(Cache):
    """A cache of RoomyLayer, one made per model layer as the model first writes to it."""

    def __init__(self, room: int) -> None:
        super().__init__(layer_class_to_replicate=lambda: RoomyLayer(room))
