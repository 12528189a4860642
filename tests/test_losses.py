"""Losses against hand-computed values (Goodfellow et al. 2014, Eq. 1)."""

import math

import pytest
import torch

from gankit.losses import LOSSES, d_minimax, g_minimax, g_nonsaturating, value_function


def sig(v):
    return 1 / (1 + math.exp(-v))


REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def test_value_function_by_hand():
    expected = (math.log(sig(2)) + math.log(sig(-1))) / 2 + (
        math.log(1 - sig(0.5)) + math.log(1 - sig(-3))
    ) / 2
    assert value_function(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
    assert d_minimax(REAL, FAKE).item() == pytest.approx(-expected, rel=1e-6)


def test_generator_losses_by_hand():
    sat = (math.log(1 - sig(0.5)) + math.log(1 - sig(-3))) / 2
    ns = -(math.log(sig(0.5)) + math.log(sig(-3))) / 2
    assert g_minimax(FAKE).item() == pytest.approx(sat, rel=1e-6)
    assert g_nonsaturating(FAKE).item() == pytest.approx(ns, rel=1e-6)


def test_optimal_discriminator_value_is_minus_log4():
    # With p_G = p_data, D* = 1/2 everywhere and V = -log 4 (Goodfellow et al. 2014, Thm. 1).
    zero = torch.zeros(10)
    assert value_function(zero, zero).item() == pytest.approx(-math.log(4), rel=1e-6)


def test_stable_for_extreme_logits():
    big = torch.tensor([1000.0, -1000.0], requires_grad=True)
    for loss in (d_minimax(big, big), g_minimax(big), g_nonsaturating(big)):
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(big.grad).all()
        big.grad = None


def test_saturation_difference():
    # D confidently rejects fakes (logit -10): the minimax G gradient vanishes, the
    # non-saturating one does not (Goodfellow et al. 2014, Sec. 3).
    f = torch.tensor([-10.0], requires_grad=True)
    g_minimax(f).backward()
    sat_grad = f.grad.abs().item()
    f.grad = None
    g_nonsaturating(f).backward()
    assert sat_grad < 1e-4 < f.grad.abs().item()


def test_registry():
    fam = LOSSES.get("gan")
    assert set(fam.g_losses) == {"nonsaturating", "minimax"}
