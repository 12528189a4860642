"""Checks on the training state read back from a checkpoint, before any of it is used.

A checkpoint may come from a stranger. Safetensors and JSON cannot run code, but their values
can still be wrong in ways that would only blow up later, deep inside training: a data order
that is not a permutation indexes out of range, a learning rate that is a string fails at
the first optimizer step. These functions raise ValueError for such values; the loop turns it
into a one-line CheckpointError at load time.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import torch
from torch import Tensor


def _whole(value: Any, name: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}={value!r} is not a whole number >= {low}")
    return value


def check_batcher_state(meta: Any, tensors: dict[str, Tensor], n: int) -> None:
    """The data order: an epoch, a position within [0, n] and a permutation of 0..n-1."""
    if not isinstance(meta, dict):
        raise ValueError("the data position is missing")
    _whole(meta.get("epoch"), "batcher.epoch")
    position = _whole(meta.get("position"), "batcher.position")
    if position > n:
        raise ValueError(f"batcher.position={position} is past the {n} items")
    perm = tensors.get("perm")
    if perm is None or perm.dtype != torch.int64 or perm.shape != (n,):
        # a different length is the dataset changing size: Batcher.restore says so itself
        if perm is not None and perm.dim() == 1 and perm.dtype == torch.int64:
            return
        raise ValueError("batcher.perm is not an int64 vector of the dataset's length")
    if not torch.equal(perm.sort().values, torch.arange(n)):
        raise ValueError("batcher.perm is not a permutation of the dataset's items")
    rng = tensors.get("rng")
    if rng is None or rng.dtype != torch.uint8:
        raise ValueError("batcher.rng is not a generator state")


def _same_kind(old: Any, new: Any, name: str) -> None:
    """``new`` (from JSON) must be the same kind of value as ``old`` (the optimizer's own)."""
    if isinstance(old, bool) or old is None or isinstance(old, str):
        if type(new) is not type(old):
            raise ValueError(f"optimizer setting {name}={new!r} should be like {old!r}")
    elif isinstance(old, Real):
        if isinstance(new, bool) or not isinstance(new, Real) or not math.isfinite(new):
            raise ValueError(f"optimizer setting {name}={new!r} is not a finite number")
    elif isinstance(old, (tuple, list)):
        if not isinstance(new, (tuple, list)) or len(new) != len(old):
            raise ValueError(f"optimizer setting {name}={new!r} should be like {list(old)}")
        for i, (a, b) in enumerate(zip(old, new)):
            _same_kind(a, b, f"{name}[{i}]")


def check_optimizer_meta(opt: torch.optim.Optimizer, meta: Any) -> None:
    """Saved param groups must have the optimizer's own keys with values of the same kinds."""
    groups = meta.get("param_groups") if isinstance(meta, dict) else None
    if not isinstance(groups, list) or len(groups) != len(opt.param_groups):
        raise ValueError("the optimizer's parameter groups do not match")
    for own, saved in zip(opt.param_groups, groups):
        # an older torch may have saved fewer settings (the optimizer fills in defaults), never
        # unknown ones
        if not isinstance(saved, dict) or not {"params", "lr"} <= set(saved) <= set(own):
            raise ValueError("the optimizer's settings do not match this run's optimizer")
        for key, value in saved.items():
            if key != "params":
                _same_kind(own[key], value, key)
    scalars = meta.get("scalars", {})
    if not isinstance(scalars, dict) or not all(isinstance(v, dict) for v in scalars.values()):
        raise ValueError("the optimizer's per-parameter scalars are damaged")


FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def check_optimizer_state(opt: torch.optim.Optimizer) -> None:
    """After loading: every setting present, and per-parameter state shaped like Adam's own
    (moments the shape of their parameter, a step count that is one number)."""
    for group in opt.param_groups:
        missing = set(opt.defaults) - set(group)
        if missing:
            raise ValueError(f"the optimizer's settings lack {sorted(missing)}")
        if isinstance(opt, torch.optim.Adam):  # the ranges Adam's own constructor enforces
            for key in ("lr", "eps", "weight_decay"):
                value = group[key]
                # Adam's kernels take these as float32 scalars: an infinite or overflowing
                # value (JSON allows Infinity and huge integers) would fail mid-step
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"the optimizer's {key} is not a number")
                if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
                    raise ValueError(f"the optimizer's {key} ({value:g}) is not a finite float")
            b1, b2 = group["betas"]
            if not (group["lr"] >= 0 and group["eps"] >= 0 and group["weight_decay"] >= 0):
                raise ValueError("the optimizer's lr, eps or weight_decay is negative")
            if not (0 <= b1 < 1 and 0 <= b2 < 1):  # beta ** step is complex for beta < 0
                raise ValueError(f"the optimizer's betas {group['betas']} are not in [0, 1)")
        want = {"step", "exp_avg", "exp_avg_sq"} | (
            {"max_exp_avg_sq"} if group["amsgrad"] else set()
        )
        for p in group["params"]:
            state = opt.state.get(p)
            if not state:
                continue  # no update yet
            if isinstance(opt, torch.optim.Adam) and set(state) != want:
                raise ValueError(f"the optimizer's state holds {sorted(state)}, not {sorted(want)}")
            for key, value in state.items():
                if not torch.is_tensor(value) or not value.is_floating_point():
                    raise ValueError(f"the optimizer's {key} is not a float tensor")
                if key == "step":
                    if value.numel() != 1 or not 0 <= float(value) < math.inf:
                        raise ValueError("the optimizer's step count is not one number >= 0")
                    if not float(value).is_integer():
                        raise ValueError("the optimizer's step count is not a whole number")
                elif value.shape != p.shape:
                    raise ValueError(f"the optimizer's {key} does not match its parameter's shape")


def check_stats_sums(counts: Any, sums: dict[str, Tensor]) -> dict[str, int]:
    """Running sums of logged values since the last stats record, with their counts."""
    if not isinstance(counts, dict) or set(counts) != set(sums):
        raise ValueError("the running stats sums do not match their counts")
    for key, value in counts.items():
        _whole(value, f"stats_counts[{key!r}]", low=1)
        if sums[key].numel() != 1 or not sums[key].is_floating_point():
            raise ValueError(f"the running sum of {key!r} is not one number")
    return dict(counts)
