"""Inception Score from class probabilities."""

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from gankit.errors import DataError
from gankit.metrics import METRICS, inception_score


@pytest.mark.parametrize("k", [2, 10, 1000])
def test_confident_balanced_predictions_give_k(k):
    splits = 5
    labels = np.arange(k * splits * 2) % k  # every split holds each class twice
    probs = np.eye(k)[labels]
    mean, std = inception_score(probs, splits=splits)
    assert mean == pytest.approx(k, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_identical_predictions_give_one():
    p = np.random.default_rng(0).dirichlet(np.ones(7))
    mean, std = inception_score(np.tile(p, (100, 1)), splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_matches_direct_formula():
    probs = np.random.default_rng(1).dirichlet(np.full(5, 0.3), size=300)
    splits, scores = 3, []
    for part in np.split(probs, splits):
        marginal = part.mean(axis=0)
        scores.append(np.exp(np.mean([entropy(p, marginal) for p in part])))
    mean, std = inception_score(torch.from_numpy(probs), splits=splits)
    assert mean == pytest.approx(np.mean(scores), rel=1e-10)
    assert std == pytest.approx(np.std(scores), rel=1e-8)
    assert 1.0 < mean < 5.0


def test_validation_and_registry():
    with pytest.raises(DataError, match="softmax"):
        inception_score(np.ones((10, 3)))
    with pytest.raises(DataError, match="splits"):
        inception_score(np.full((5, 2), 0.5), splits=10)
    assert METRICS.get("is") is inception_score
