"""Named batches: aligned fields share x's order, unpaired fields have their own stream."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.errors import DataError
from gankit.nn.modes import evaluating
from gankit.training.batcher import Batcher


def _data(n=20):
    x = torch.arange(n, dtype=torch.float32)[:, None]
    return x, torch.arange(n), {"mask": 10 * x}, {"b": 100 + torch.arange(7.0)[:, None]}


def test_aligned_fields_follow_x_and_the_main_stream_is_unchanged():
    x, y, fields, unpaired = _data()
    plain = Batcher(x, y, 4, seed=3)
    named = Batcher(x, y, 4, seed=3, fields=fields, unpaired=unpaired, aliases={"a": "x"})
    for _ in range(12):  # past several epochs of both streams
        p, b = plain.next(), named.next()
        assert torch.equal(p["x"], b["x"]) and torch.equal(p["y"], b["y"])
        assert torch.equal(b["mask"], 10 * b["x"]) and b["a"] is b["x"]
        assert b["b"].shape == (4, 1) and bool((b["b"] >= 100).all())


def test_unpaired_stream_resumes_exactly():
    x, y, fields, unpaired = _data()
    first = Batcher(x, y, 4, seed=1, unpaired=unpaired)
    for _ in range(3):
        first.next()
    meta, tensors = first.state()
    second = Batcher(x, y, 4, seed=99, unpaired=unpaired)
    second.restore(meta, tensors)
    for _ in range(5):
        assert torch.equal(first.next()["b"], second.next()["b"])


def test_missing_field_and_missing_position_are_clear():
    x, y, _, unpaired = _data()
    batch = Batcher(x, y, 4, seed=0).next()
    with pytest.raises(KeyError, match="no field 'b'; its fields: x, y"):
        batch["b"]
    meta, tensors = Batcher(x, y, 4, seed=0).state()
    with pytest.raises(DataError, match="no position for the data field 'b'"):
        Batcher(x, y, 4, seed=0, unpaired=unpaired).restore(meta, tensors)


def test_evaluating_restores_each_submodule_mode():
    averaged = nn.BatchNorm1d(2).eval()  # an EMA copy lives in eval mode
    composite = nn.Sequential(nn.Linear(2, 2), averaged)  # made on the fly, in train mode
    with evaluating(composite):
        assert not composite.training and not composite[0].training
    assert composite.training and composite[0].training and not averaged.training
