"""Gradient penalty and R1 on a linear D, whose input gradient is known exactly."""

import pytest
import torch

from gankit.losses import gradient_penalty, interpolation_weights, r1_penalty
from gankit.nn.pack import pack


def linear_d(w):
    return lambda x: x.flatten(1) @ w  # grad_x D = w for every sample


def test_gradient_penalty_linear_by_hand():
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5 -> (5 - 1)^2 = 16 whatever the interpolation
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    eps = interpolation_weights(real, torch.Generator().manual_seed(0))
    assert gradient_penalty(linear_d(w), real, fake, eps).item() == pytest.approx(16.0)


def test_gradient_penalty_interpolates_between_real_and_fake():
    # D(x) = ||x||^2 / 2 has grad x: the penalty sees x_hat = eps real + (1 - eps) fake
    real, fake = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    eps = torch.tensor([[0.25]])  # x_hat = (0.5, 0): norm 0.5 -> (0.5 - 1)^2
    got = gradient_penalty(lambda x: 0.5 * (x**2).sum(1), real, fake, eps)
    assert got.item() == pytest.approx(0.25)


def test_gradient_penalty_reaches_the_critic_parameters():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    gradient_penalty(linear_d(w), torch.randn(4, 2), torch.randn(4, 2), torch.rand(4, 1)).backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert torch.allclose(w.grad, 2 * 4 * torch.tensor([3.0, 4.0]) / 5)


def test_interpolation_weights_one_per_sample_in_unit_interval():
    eps = interpolation_weights(torch.zeros(1000, 3, 4, 4), torch.Generator().manual_seed(1))
    assert eps.shape == (1000, 1, 1, 1)
    assert eps.min() >= 0 and eps.max() <= 1 and 0.4 < eps.mean() < 0.6


def test_r1_by_hand():
    w = torch.tensor([1.0, 2.0])
    assert r1_penalty(linear_d(w), torch.randn(5, 2)).item() == pytest.approx(5.0)


def test_penalties_group_gradients_per_pack():
    # A packing D sees (N/2, 4); its gradient w.r.t. each pack is the whole w of length 4.
    w = torch.tensor([1.0, 0.0, 0.0, 2.0])

    def d(x):
        return pack(x, 2) @ w

    assert r1_penalty(d, torch.randn(6, 2)).item() == pytest.approx(5.0)
    eps = torch.rand(6, 1)
    got = gradient_penalty(d, torch.randn(6, 2), torch.randn(6, 2), eps).item()
    assert got == pytest.approx((5**0.5 - 1) ** 2, rel=1e-5)
