"""Minibatches drawn straight from in-memory tensors, with a saveable position.

Each epoch is a fresh permutation from a dedicated generator; the last incomplete batch is
dropped so every step sees the same batch size (BatchNorm statistics stay comparable).

A batch is a :class:`Batch`, a mapping of named fields (DESIGN: "batches are mappings of named
fields"): ``x`` and ``y`` and every field aligned with them share one permutation; each
unpaired field (a second domain) has its own permutation stream, so the domains are sampled
independently and the first stream is drawn exactly as for a dataset of ``x`` and ``y`` alone.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import DataError
from gankit.training.statecheck import check_batcher_state


class Batch(dict):
    """Named fields of one minibatch: ``batch["x"]``, ``batch["y"]``, ``batch["b"]``, ..."""

    def __missing__(self, key: str) -> Tensor:
        raise KeyError(
            f"this batch has no field {key!r}; its fields: {', '.join(self) or 'none'}. "
            "The variant needs a dataset with that field."
        )


class _Stream:
    """One permutation stream over aligned tensors (same first dimension)."""

    def __init__(self, tensors: dict[str, Tensor], batch_size: int, seed: int, what: str):
        n = len(next(iter(tensors.values())))
        if n < batch_size:
            raise DataError(
                f"the {what} has {n} items, fewer than train.batch_size={batch_size}; "
                "lower train.batch_size or use more data."
            )
        self.tensors, self.n, self.batch_size = tensors, n, batch_size
        self.device = next(iter(tensors.values())).device
        self.generator = torch.Generator().manual_seed(seed)  # CPU: same stream on every device
        self.epoch, self.position = 0, 0
        self.perm = self._new_perm()

    def _new_perm(self) -> Tensor:
        return torch.randperm(self.n, generator=self.generator).to(self.device)

    def next(self) -> dict[str, Tensor]:
        if self.position + self.batch_size > self.n:
            self.epoch, self.position = self.epoch + 1, 0
            self.perm = self._new_perm()
        idx = self.perm[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return {k: v.index_select(0, idx) for k, v in self.tensors.items()}

    def state(self) -> tuple[dict, dict[str, Tensor]]:
        return (
            {"epoch": self.epoch, "position": self.position},
            {"perm": self.perm.cpu(), "rng": self.generator.get_state()},
        )

    def restore(self, meta: dict, tensors: dict[str, Tensor]) -> None:
        if len(tensors["perm"]) != self.n:
            raise DataError(
                "the dataset changed size since this run was saved "
                f"({len(tensors['perm'])} -> {self.n} items); resume needs the same data."
            )
        self.epoch, self.position = int(meta["epoch"]), int(meta["position"])
        self.perm = tensors["perm"].to(self.device)
        self.generator.set_state(tensors["rng"])


class Batcher:
    """Batches of ``x`` (with ``y`` and ``fields`` aligned to it) and of each ``unpaired`` field.

    ``aliases`` add second names to fields of the batch (``{"a": "x"}``: domain A is x).
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor | None,
        batch_size: int,
        seed: int,
        fields: dict[str, Tensor] | None = None,
        unpaired: dict[str, Tensor] | None = None,
        aliases: dict[str, str] | None = None,
    ):
        main = {"x": x, **({"y": y} if y is not None else {}), **(fields or {})}
        self.main = _Stream(main, batch_size, seed, "dataset")
        # each unpaired field its own stream, seeded apart from the main one
        self.unpaired = {
            name: _Stream({name: t}, batch_size, seed + 7907 * (i + 1), f"field {name!r}")
            for i, (name, t) in enumerate(sorted((unpaired or {}).items()))
        }
        self.x, self.y, self.batch_size = x, y, batch_size
        self.aliases = dict(aliases or {})

    # the main stream's position is the run's epoch counter
    epoch = property(lambda self: self.main.epoch)
    position = property(lambda self: self.main.position)
    perm = property(lambda self: self.main.perm)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.x) // self.batch_size

    @property
    def epochs_done(self) -> int:
        """Complete passes so far: an epoch counts as done once its last full batch has been
        drawn, not when the next epoch's first batch is (``epoch`` turns over then)."""
        return self.epoch + (self.position + self.batch_size > len(self.x))

    def next(self) -> Batch:
        batch = Batch(self.main.next())
        for stream in self.unpaired.values():
            batch.update(stream.next())
        for alias, target in self.aliases.items():
            batch[alias] = batch[target]
        return batch

    def state(self) -> tuple[dict, dict[str, Tensor]]:
        """(JSON part, tensor part) of the positions, for a checkpoint. The main stream is
        stored as before (``perm``, ``rng``); unpaired streams under their field's name."""
        meta, tensors = self.main.state()
        for name, stream in self.unpaired.items():
            m, t = stream.state()
            meta[f"unpaired.{name}"] = m
            tensors.update({f"{name}.{k}": v for k, v in t.items()})
        return meta, tensors

    def restore(self, meta: dict, tensors: dict[str, Tensor]) -> None:
        self.main.restore(meta, tensors)
        for name, stream in self.unpaired.items():
            cut = len(name) + 1
            own = {k[cut:]: v for k, v in tensors.items() if k.startswith(name + ".")}
            if f"unpaired.{name}" not in meta:
                raise DataError(f"the checkpoint has no position for the data field {name!r}.")
            check_batcher_state(meta[f"unpaired.{name}"], own, stream.n)
            stream.restore(meta[f"unpaired.{name}"], own)
