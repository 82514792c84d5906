"""The loss-spike guard: a non-finite loss, or a loss or gradient norm far above its running median,
rolls the trainable weights and the optimizer back to the last good in-memory snapshot, skips the
batch and lowers the learning rate."""

from __future__ import annotations

import copy
import math
import statistics
from collections import deque

import torch


class SpikeGuard:
    def __init__(
        self,
        params: list[torch.nn.Parameter],
        optimizer: torch.optim.Optimizer,
        factor: float = 4.0,
        window: int = 20,
        min_history: int = 8,
        lr_decay: float = 0.5,
    ) -> None:
        self.params = params
        self.optimizer = optimizer
        self.factor = factor
        self.min_history = min_history
        self.lr_decay = lr_decay
        self.losses: deque[float] = deque(maxlen=window)
        self.norms: deque[float] = deque(maxlen=window)
        self.snapshot: tuple[list[torch.Tensor], dict] | None = None
        self.take_snapshot()

    def take_snapshot(self) -> None:
        self.snapshot = ([p.detach().clone() for p in self.params], copy.deepcopy(self.optimizer.state_dict()))

    def _far_above(self, value: float, history: deque[float]) -> bool:
        return len(history) >= self.min_history and value > self.factor * statistics.median(history)

    def check_loss(self, loss: float) -> str | None:
        if not math.isfinite(loss):
            return f"non-finite loss ({loss})"
        if self._far_above(loss, self.losses):
            return f"loss {loss:.4f} > {self.factor}x the running median {statistics.median(self.losses):.4f}"
        return None

    def check_grad(self, norm: float) -> str | None:
        if not math.isfinite(norm):
            return f"non-finite gradient norm ({norm})"
        if self._far_above(norm, self.norms):
            return f"gradient norm {norm:.4f} > {self.factor}x the running median {statistics.median(self.norms):.4f}"
        return None

    def accept(self, loss: float, norm: float) -> None:
        self.losses.append(loss)
        self.norms.append(norm)

    def rollback(self, scheduler: torch.optim.lr_scheduler.LRScheduler | None) -> float:
        """Restore the snapshot and lower the learning rate; returns the new base learning rate."""
        assert self.snapshot is not None
        weights, state = self.snapshot
        with torch.no_grad():
            for p, saved in zip(self.params, weights, strict=True):
                p.copy_(saved)
        self.optimizer.load_state_dict(copy.deepcopy(state))
        for group in self.optimizer.param_groups:
            group["lr"] *= self.lr_decay
        if scheduler is not None:
            scheduler.base_lrs = [lr * self.lr_decay for lr in scheduler.base_lrs]
        for p in self.params:
            p.grad = None
        return self.optimizer.param_groups[0]["lr"]
