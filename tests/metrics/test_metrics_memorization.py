"""Training-set memorisation flag from nearest-neighbour distances."""

import numpy as np
import pytest
import torch

from gankit.metrics import memorization


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((3000, 8))
    heldout = rng.standard_normal((1000, 8))
    fresh = rng.standard_normal((1000, 8))
    return rng, train, heldout, fresh


def test_copies_of_training_set_are_flagged(data):
    rng, train, heldout, _ = data
    copies = train[rng.choice(len(train), 1000, replace=False)]
    out = memorization(copies, train, heldout)
    assert out["copies_training_set"] is True
    assert out["copy_fraction"] == 1.0
    assert out["median_ratio"] < 0.01


def test_fresh_samples_are_not_flagged(data):
    _, train, heldout, fresh = data
    out = memorization(fresh, train, heldout)
    assert out["copies_training_set"] is False
    assert out["copy_fraction"] < 0.04
    assert 0.85 < out["median_ratio"] < 1.15


def test_partial_copying_is_flagged(data):
    rng, train, heldout, fresh = data
    mixed = np.concatenate([fresh[:700], train[:300] + 1e-4 * rng.standard_normal((300, 8))])
    out = memorization(mixed, train, heldout)
    assert out["copies_training_set"] is True
    assert 0.28 < out["copy_fraction"] < 0.35


def test_threshold_and_chunking(data):
    _, train, heldout, fresh = data
    base = memorization(fresh, train, heldout)
    small_chunks = memorization(
        torch.from_numpy(fresh), train, heldout, chunk_size=97, dtype=torch.float64
    )
    assert small_chunks["copy_fraction"] == base["copy_fraction"]
    assert small_chunks["median_ratio"] == pytest.approx(base["median_ratio"], rel=1e-5)
    strict = memorization(fresh, train, heldout, copy_fraction_threshold=0.0)
    assert strict["copies_training_set"] is (strict["copy_fraction"] > 0.0)
