"""Minibatches drawn straight from in-memory tensors, with a saveable position.

Each epoch is a fresh permutation from a dedicated generator; the last incomplete batch is
dropped so every step sees the same batch size (BatchNorm statistics stay comparable).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError


class Batcher:
    def __init__(self, x: Tensor, y: Tensor | None, batch_size: int, seed: int):
        if len(x) < batch_size:
            raise DataError(
                f"the dataset has {len(x)} items, fewer than train.batch_size={batch_size}; "
                "lower train.batch_size or use more data."
            )
        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator = torch.Generator().manual_seed(seed)  # CPU: same stream on every device
        self.epoch, self.position = 0, 0
        self.perm = self._new_perm()

    @property
    def batches_per_epoch(self) -> int:
        return len(self.x) // self.batch_size

    @property
    def epochs_done(self) -> int:
        """Complete passes so far: an epoch counts as done once its last full batch has been
        drawn, not when the next epoch's first batch is (``epoch`` turns over then)."""
        return self.epoch + (self.position + self.batch_size > len(self.x))

    def _new_perm(self) -> Tensor:
        return torch.randperm(len(self.x), generator=self.generator).to(self.x.device)

    def next(self) -> tuple[Tensor, Tensor | None]:
        if self.position + self.batch_size > len(self.x):
            self.epoch, self.position = self.epoch + 1, 0
            self.perm = self._new_perm()
        idx = self.perm[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return self.x.index_select(0, idx), None if self.y is None else self.y.index_select(0, idx)

    def state(self) -> tuple[dict, dict[str, Tensor]]:
        """(JSON part, tensor part) of the position, for a checkpoint."""
        return (
            {"epoch": self.epoch, "position": self.position},
            {"perm": self.perm.cpu(), "rng": self.generator.get_state()},
        )

    def restore(self, meta: dict, tensors: dict[str, Tensor]) -> None:
        if len(tensors["perm"]) != len(self.x):
            raise DataError(
                "the dataset changed size since this run was saved "
                f"({len(tensors['perm'])} -> {len(self.x)} items); resume needs the same data."
            )
        self.epoch, self.position = int(meta["epoch"]), int(meta["position"])
        self.perm = tensors["perm"].to(self.x.device)
        self.generator.set_state(tensors["rng"])
