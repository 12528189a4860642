"""Sensitivity, specificity and lesion detection against hand-counted masks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gankit.errors import DataError
from gankit.metrics import score_pairs
from gankit.metrics.registry import METRIC_REGISTRY
from gankit.metrics.segmentation import (
    lesion_counts,
    lesion_detection,
    segmentation_scores,
    sensitivity,
    specificity,
)


def _masks():
    """One 4x5 image: two lesions (a 2x2 block and a single pixel), prediction finds the
    block partly (2 of its 4 pixels), misses the single pixel, and adds 3 false pixels."""
    t = np.zeros((1, 4, 5), np.int64)
    t[0, 0:2, 0:2] = 1  # lesion A, 4 pixels
    t[0, 3, 4] = 1  # lesion B, 1 pixel
    p = np.zeros_like(t)
    p[0, 0, 0:2] = 1  # 2 of A
    p[0, 3, 0:3] = 1  # 3 false positives
    return p, t


def test_binary_hand_counts():
    p, t = _masks()
    # T = 5 pixels, TP = 2 -> 2/5; negatives 15, FP 3 -> TN 12 -> 12/15
    assert sensitivity(p, t) == pytest.approx(2 / 5)
    assert specificity(p, t) == pytest.approx(12 / 15)
    assert lesion_counts(p, t) == (1, 2)
    assert lesion_detection(p, t) == pytest.approx(0.5)
    s = segmentation_scores(p, t)
    assert s["dice"] == pytest.approx(2 * 2 / (5 + 5))
    assert s["lesions"] == 2


def test_diagonal_neighbours_are_two_lesions():
    """4-connectivity: pixels touching only at a corner are separate lesions."""
    t = np.zeros((1, 3, 3), np.int64)
    t[0, 0, 0] = t[0, 1, 1] = 1
    p = np.zeros_like(t)
    p[0, 1, 1] = 1
    assert lesion_counts(p, t) == (1, 2)


def test_lesions_pool_over_images_and_need_the_right_class():
    t = np.zeros((2, 4, 4), np.int64)
    t[0, :2, :2] = 1
    t[1, :2, :2] = 2  # class 2 lesion
    t[1, 3, 3] = 1
    p = np.zeros_like(t)
    p[0, 0, 0] = 1  # finds image 0's lesion
    p[1, 0, 0] = 1  # wrong class on the class-2 lesion: not found
    p[1, 3, 3] = 1
    assert lesion_counts(p, t) == (2, 3)
    # class 1: T = 5, TP = 2 -> 0.4; class 2: T = 4, TP = 0 -> 0; mean 0.2
    assert sensitivity(p, t) == pytest.approx(0.2)
    # class 1: negatives 27, FP 1 -> 26/27; class 2: negatives 28, FP 0 -> 1
    assert specificity(p, t) == pytest.approx((26 / 27 + 1) / 2)


def test_perfect_and_empty():
    _, t = _masks()
    assert sensitivity(t, t) == specificity(t, t) == lesion_detection(t, t) == 1.0
    empty = np.zeros((1, 4, 4), np.int64)
    assert math.isnan(sensitivity(empty, empty)) and math.isnan(lesion_detection(empty, empty))


def test_batch_size_does_not_change_the_rates():
    rng = np.random.default_rng(0)
    t = (rng.random((9, 8, 8)) < 0.2).astype(np.int64)
    p = (rng.random((9, 8, 8)) < 0.3).astype(np.int64)
    assert sensitivity(p, t, batch_size=2) == sensitivity(p, t, batch_size=100)
    assert specificity(p, t, batch_size=4) == pytest.approx(
        ((p == 0) & (t == 0)).sum() / (t == 0).sum()
    )


def test_registered_and_dispatched_by_score_pairs():
    for name in ("sensitivity", "specificity", "lesion_detection"):
        assert METRIC_REGISTRY.get(name).scores == "pairs"
    p, t = _masks()
    got = score_pairs(p[:, None], t[:, None], "dice,sensitivity,lesion_detection")
    assert got["sensitivity"] == pytest.approx(0.4) and got["lesion_detection"] == 0.5


def test_bad_masks_are_one_line():
    p, t = _masks()
    with pytest.raises(DataError) as err:
        sensitivity(p.astype(np.float64) + 0.5, t)
    assert "integer" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError):
        lesion_detection(p[:, :3], t)
