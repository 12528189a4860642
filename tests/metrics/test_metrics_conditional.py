"""Conditional metrics against independent computations and stub generators."""

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from gankit.errors import DataError, RunError
from gankit.metrics.conditional import (
    code_class_accuracy,
    evaluate_conditional,
    intra_class_fid,
    matched_accuracy,
    per_class_coverage,
    requested_class_accuracy,
)
from gankit.metrics.prdc import density_coverage
from gankit.networks.conditional import LatentLayout
from gankit.noise import NoisePrior
from gankit.runs import Generator


def test_requested_class_accuracy_overall_and_per_class():
    requested = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    r = requested_class_accuracy(predicted, requested)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["per_class"] == pytest.approx([0.5, 2 / 3, 1.0])
    probs = np.eye(3)[predicted] * 0.8 + 0.05  # argmax of probabilities is the prediction
    assert requested_class_accuracy(probs, requested) == r
    with pytest.raises(DataError):
        requested_class_accuracy(predicted[:3], requested)


def test_matched_accuracy_equals_brute_force_over_permutations():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 300)
    codes = np.where(rng.random(300) < 0.7, (labels + 1) % 4, rng.integers(0, 4, 300))
    best = max(
        np.mean(np.array(perm)[codes] == labels) for perm in itertools.permutations(range(4))
    )
    r = matched_accuracy(codes, labels)
    assert r["accuracy"] == pytest.approx(best)
    assert r["mapping"] == {1: 0, 2: 1, 3: 2, 0: 3}  # code = label + 1 mostly
    assert matched_accuracy(labels, labels)["accuracy"] == 1.0


def test_matched_accuracy_more_code_values_than_classes():
    codes = np.array([0, 1, 2, 3, 3])
    labels = np.array([0, 0, 1, 1, 1])
    # one-to-one: only two code values can be matched (3 -> 1 with 2 hits, 0 or 1 -> 0)
    assert matched_accuracy(codes, labels)["accuracy"] == pytest.approx(3 / 5)


def _fid_numpy(a, b):
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_intra_class_fid_is_the_mean_of_per_class_fids():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 3))
    real_y = np.repeat([0, 1], 200)
    real[real_y == 1] += 3.0
    fake = rng.normal(size=(300, 3)) * 1.2
    fake_y = np.repeat([0, 1], 150)
    fake[fake_y == 1] += 2.0
    want = [_fid_numpy(real[real_y == k], fake[fake_y == k]) for k in (0, 1)]
    r = intra_class_fid(real, real_y, fake, fake_y)
    assert r["per_class"] == pytest.approx(want, rel=1e-6)
    assert r["intra_fid"] == pytest.approx(np.mean(want), rel=1e-6)
    # swapping the fake labels pairs each class with the wrong real class: much worse
    assert intra_class_fid(real, real_y, fake, 1 - fake_y)["intra_fid"] > r["intra_fid"] + 1


def test_per_class_coverage_matches_density_coverage_per_class():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, 2))
    real_y = np.repeat([0, 1], 100)
    fake = np.concatenate([real[:100] + 0.01, rng.normal(size=(100, 2)) + 5])  # class 1 missed
    fake_y = real_y
    r = per_class_coverage(real, real_y, fake, fake_y, k=5)
    want = [density_coverage(real[real_y == k], fake[fake_y == k], k=5)["coverage"] for k in (0, 1)]
    assert r["per_class"] == pytest.approx(want)
    assert r["per_class"][0] > 0.9 and r["per_class"][1] == 0.0


class _StubG(nn.Module):
    """G(z | y): an image whose every pixel is y / 10 (or ignores y when ``broken``)."""

    def __init__(self, broken=False):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.broken = broken

    def forward(self, z, y=None, c=None, y_code=None):
        if c is not None:  # InfoGAN stub: code value v draws class (v + 3) % 10
            y = (c[:, :10].argmax(1) + 3) % 10
        level = torch.zeros(len(z)) if self.broken else y.float() / 10
        return (level + self.w + 0.001 * z[:, 0]).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


class _Reader:
    """A 'classifier' that reads the class back from the pixel level."""

    def __call__(self, x):
        level = x.float().mean((1, 2, 3))
        pred = torch.round(level * 10).long().clamp(0, 9)

        class F:
            features = torch.stack([level, level**2], 1)
            probs = torch.eye(10)[pred]

        return F


def _generator(layout, broken=False):
    return Generator(_StubG(broken), NoisePrior("normal", 2), "image", 0, layout=layout)


def test_evaluate_conditional_on_stub_generators():
    layout = LatentLayout(2, num_classes=10)
    good = evaluate_conditional(_generator(layout), _Reader(), n_per_class=20)
    assert good["requested_class_accuracy"]["accuracy"] == 1.0
    bad = evaluate_conditional(_generator(layout, broken=True), _Reader(), n_per_class=20)
    assert bad["requested_class_accuracy"]["accuracy"] == pytest.approx(0.1)
    real = torch.arange(10).repeat_interleave(30).float().div(10).view(-1, 1, 1, 1)
    real = real.expand(-1, 1, 4, 4) + 0.001 * torch.randn(300, 1, 4, 4)
    real_y = torch.arange(10).repeat_interleave(30)
    full = evaluate_conditional(_generator(layout), _Reader(), real, real_y, n_per_class=20)
    assert full["intra_fid"]["intra_fid"] < 1e-3
    assert len(full["per_class_coverage"]["per_class"]) == 10
    with pytest.raises(RunError, match="not a conditional run"):
        evaluate_conditional(_generator(LatentLayout(2)), _Reader())


def test_code_class_accuracy_finds_the_permutation():
    layout = LatentLayout(2, categorical=(10,), continuous=1)
    r = code_class_accuracy(_generator(layout), _Reader(), code=0, n_per_value=5)
    assert r["accuracy"] == 1.0 and r["mapping"][0] == 3
    with pytest.raises(RunError, match="not categorical"):
        code_class_accuracy(_generator(layout), _Reader(), code=1)
