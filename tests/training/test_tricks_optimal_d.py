"""The optimal-discriminator check: D trained against a frozen G reaches D* = p/(p + p_G)."""

import math

import pytest
import torch

from gankit.training.optimal_d import (
    FrozenGaussianGenerator,
    GaussianMixture,
    check_optimal_discriminator,
    line_grid,
    optimal_d_star,
    plot_optimal_d,
)


def test_d_star_by_hand():
    p, q = GaussianMixture([[0.0]], 1.0), GaussianMixture([[1.0]], 1.0)
    x = torch.tensor([[0.0], [0.5], [3.0]])
    # log p - log q = ((x - 1)^2 - x^2) / 2 = (1 - 2x) / 2
    expected = [1 / (1 + math.exp(-(1 - 2 * v) / 2)) for v in (0.0, 0.5, 3.0)]
    assert optimal_d_star(p, q, x).tolist() == pytest.approx(expected, rel=1e-9)


def test_mixture_density_by_hand():
    mix = GaussianMixture([[0.0, 0.0], [2.0, 0.0]], 0.5)
    x = torch.tensor([[0.0, 0.0]])
    one = 1 / (2 * math.pi * 0.25)
    expected = 0.5 * one * (1 + math.exp(-4 / (2 * 0.25)))
    assert mix.log_prob(x).exp().item() == pytest.approx(expected, rel=1e-9)


def test_frozen_generator_has_the_stated_density():
    G = FrozenGaussianGenerator([1.5], 0.7)
    x = G(torch.randn(200000, 1, generator=torch.Generator().manual_seed(0)))
    assert x.mean().item() == pytest.approx(1.5, abs=0.01)
    assert x.std().item() == pytest.approx(0.7, abs=0.01)


def test_trained_d_matches_d_star_in_1d(tmp_path):
    result = check_optimal_discriminator(
        GaussianMixture([[0.0]], 1.0),
        FrozenGaussianGenerator([1.5], 0.7),
        line_grid(-5, 5),
        steps=400,
        batch_size=256,
        hidden=32,
    )
    assert result.mae < 0.05
    out = plot_optimal_d(result, tmp_path / "d.png", "1-D")
    assert out.stat().st_size > 0


def test_an_untrained_d_is_far_from_d_star():
    # the check is not vacuous: with no training, D is ~1/2 everywhere
    result = check_optimal_discriminator(
        GaussianMixture([[0.0]], 1.0),
        FrozenGaussianGenerator([1.5], 0.7),
        line_grid(-5, 5),
        steps=0,
        hidden=32,
    )
    assert result.mae > 0.1
