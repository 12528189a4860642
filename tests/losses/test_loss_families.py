"""Loss families against hand-computed values, and a short training run for each."""

import math

import pytest
import torch

from gankit.losses import (
    LOSSES,
    d_hinge,
    d_least_squares,
    d_least_squares_targets,
    d_minimax,
    d_minimax_targets,
    d_wasserstein,
    g_hinge,
    g_least_squares,
    g_wasserstein,
)

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sig(v):
    return 1 / (1 + math.exp(-v))


def test_least_squares_by_hand():
    # Mao et al. 2017, Eq. 2 with a=0, b=1, c=1
    d = 0.5 * ((2 - 1) ** 2 + (-1 - 1) ** 2) / 2 + 0.5 * (0.5**2 + 3.0**2) / 2
    g = 0.5 * ((0.5 - 1) ** 2 + (-3 - 1) ** 2) / 2
    assert d_least_squares(REAL, FAKE).item() == pytest.approx(d)
    assert g_least_squares(FAKE).item() == pytest.approx(g)


def test_least_squares_targets_by_hand():
    d = 0.5 * ((2 - 0.9) ** 2 + (-1 - 0.8) ** 2) / 2 + 0.5 * ((0.5 - 0.1) ** 2 + (-3 - 0) ** 2) / 2
    got = d_least_squares_targets(REAL, FAKE, torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.0]))
    assert got.item() == pytest.approx(d)


def test_wasserstein_by_hand():
    assert d_wasserstein(REAL, FAKE).item() == pytest.approx((0.5 - 3) / 2 - (2 - 1) / 2)
    assert g_wasserstein(FAKE).item() == pytest.approx(-(0.5 - 3) / 2)


def test_hinge_by_hand():
    # relu(1 - 2) = 0, relu(1 + 1) = 2; relu(1 + 0.5) = 1.5, relu(1 - 3) = 0
    assert d_hinge(REAL, FAKE).item() == pytest.approx((0 + 2) / 2 + (1.5 + 0) / 2)
    assert g_hinge(FAKE).item() == pytest.approx(-(0.5 - 3) / 2)


def test_bce_with_targets_by_hand():
    t_real, t_fake = torch.tensor([0.9, 1.0]), torch.tensor([0.0, 0.2])
    real = -(0.9 * math.log(sig(2)) + 0.1 * math.log(1 - sig(2)) + math.log(sig(-1))) / 2
    fake = -(math.log(1 - sig(0.5)) + 0.2 * math.log(sig(-3)) + 0.8 * math.log(1 - sig(-3))) / 2
    got = d_minimax_targets(REAL, FAKE, t_real, t_fake)
    assert got.item() == pytest.approx(real + fake, rel=1e-6)
    # hard targets give back Goodfellow's loss exactly
    hard = d_minimax_targets(REAL, FAKE, torch.ones(2), torch.zeros(2))
    assert hard.item() == pytest.approx(d_minimax(REAL, FAKE).item(), rel=1e-6)


def test_family_flags():
    assert LOSSES.get("gan").probabilistic and LOSSES.get("gan").d_loss_targets is not None
    assert LOSSES.get("lsgan").d_loss_targets is not None
    assert LOSSES.get("wgan").needs_weight_clip and not LOSSES.get("wgan").needs_gradient_penalty
    assert LOSSES.get("wgan-gp").needs_gradient_penalty
    for name in ("wgan", "wgan-gp", "hinge"):
        assert LOSSES.get(name).d_loss_targets is None
        assert not LOSSES.get(name).probabilistic


TARGET = torch.tensor([2.0, -1.0])


def gaussian_data():
    from gankit.data import Dataset

    gen = torch.Generator().manual_seed(0)
    x = TARGET + 0.3 * torch.randn(2048, 2, generator=gen)
    return Dataset(x=x, y=None, kind="vector", name="gaussian")


def distance_to_data(G):
    """|mean(G(z)) - mean| + sum |std(G(z)) - 0.3|: 0 when G matches the data's moments."""
    with torch.no_grad():
        x = G(torch.randn(512, 2, generator=torch.Generator().manual_seed(0)))
    return ((x.mean(0) - TARGET).norm() + (x.std(0) - 0.3).abs().sum()).item()


# each loss with the settings its paper recommends (n_critic=5 for the Wasserstein critics)
LOSS_SETTINGS = {
    "gan": {},
    "lsgan": {},
    "wgan": {"train.d_steps": 5},
    "wgan-gp": {"train.d_steps": 5, "train.beta1": 0.0, "train.beta2": 0.9},
    "hinge": {},
}


def train_and_measure(cfg, tmp_path, steps=150):
    """Distances to the data (relative to the start) after the last three blocks of 25 steps."""
    from gankit.runs import RunDir
    from gankit.training.loop import Trainer

    tr = Trainer(cfg, RunDir.create(tmp_path / "run", cfg), data=gaussian_data())
    start, seen = distance_to_data(tr.nets["G"]), []
    for i in range(steps):
        tr.train_step()
        if i % 25 == 24:
            seen.append(distance_to_data(tr.nets["G"]) / start)
    return tr, seen[-3:]


@pytest.mark.parametrize("loss", sorted(LOSS_SETTINGS))
def test_short_training_moves_generator_to_the_data(toy_cfg, tmp_path, loss):
    cfg = toy_cfg(
        **{
            "train.loss": loss,
            "train.lr_g": 3e-3,
            "train.lr_d": 3e-3,
            "diagnose.enabled": False,
            **LOSS_SETTINGS[loss],
        }
    )
    tr, late = train_and_measure(cfg, tmp_path)
    assert sum(late) / 3 < 0.7, late  # a sign error would push G away (ratio > 1)
    if loss == "wgan":  # weights clipped to [-0.01, 0.01] after every critic step
        assert all(p.abs().max() <= 0.01 + 1e-7 for p in tr.nets["D"].parameters())
