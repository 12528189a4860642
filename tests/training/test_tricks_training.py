"""Tricks inside the game: each term equals its formula on a controlled step, every trick trains
with every loss it claims to support, and trick state survives resume exactly."""

import copy
import math

import pytest
import torch

from gankit import api, tricks
from gankit.losses import LOSSES, d_minimax_targets, r1_penalty
from gankit.runs import RunDir, load_generator
from gankit.training.loop import Trainer
from gankit.variants import StepContext
from tests.training.test_loop import _assert_resume_bitwise


def trainer(toy_cfg, tmp_path, **overrides):
    cfg = toy_cfg(**{"diagnose.enabled": False, **overrides})
    return Trainer(cfg, RunDir.create(tmp_path / "run", cfg))


def controlled_step(tr, phase_name, seed=0, step=0):
    """Run one phase's loss on a fixed real batch, fixed z and a seeded stream."""
    gen = torch.Generator().manual_seed(seed)
    real = tr.data.x[:64]
    z = torch.randn(64, 2, generator=gen)
    ctx = StepContext(
        tr.nets,
        real,
        None,
        64,
        step,
        lambda n: z[:n],
        rng=torch.Generator().manual_seed(seed + 1),
        optimizers=tr.optimizers,
    )
    phase = next(p for p in tr.phases if p.name == phase_name)
    return phase.loss(ctx), real, z


def test_label_smoothing_term(toy_cfg, tmp_path):
    tr = trainer(toy_cfg, tmp_path, **{"tricks.label_smoothing": 0.2})
    terms, real, z = controlled_step(tr, "D")
    D, G = tr.nets["D"], tr.nets["G"]
    with torch.no_grad():
        expected = d_minimax_targets(D(real), D(G(z)), torch.full((64,), 0.8), torch.zeros(64))
    assert terms["d_adv"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_instance_noise_is_added_to_both_inputs(toy_cfg, tmp_path):
    tr = trainer(toy_cfg, tmp_path, **{"tricks.instance_noise": 0.5, "train.steps": 100})
    terms, real, z = controlled_step(tr, "D", step=50)  # linear schedule: sigma = 0.25
    D, G = tr.nets["D"], tr.nets["G"]
    rng = torch.Generator().manual_seed(1)
    with torch.no_grad():
        noisy_real = real + 0.25 * torch.randn(real.shape, generator=rng)
        fake = G(z)
        noisy_fake = fake + 0.25 * torch.randn(fake.shape, generator=rng)
        expected = LOSSES.get("gan").d_loss(D(noisy_real), D(noisy_fake))
    assert terms["d_adv"].item() == pytest.approx(expected.item(), rel=1e-6)


def _input_gradients_by_differences(D, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    """dD(x_i)/dx_i for each row by central differences in float64: an estimate independent
    of the autograd code under test (the toy D has no BatchNorm, so rows do not interact)."""
    D64 = copy.deepcopy(D).double()
    x = x.double()
    cols = []
    with torch.no_grad():
        for d in range(x.shape[1]):
            step = torch.zeros_like(x)
            step[:, d] = h
            cols.append((D64(x + step) - D64(x - step)) / (2 * h))
    return torch.stack(cols, dim=1)


def test_r1_term_against_hand_computed_gradients(toy_cfg, tmp_path):
    # gamma = 4: R1 = gamma / 2 * E ||grad D(x)||^2 (Mescheder et al. 2018, Eq. 9); a wrong
    # factor (gamma instead of gamma / 2) or a norm instead of its square fails here
    tr = trainer(toy_cfg, tmp_path, **{"tricks.r1_weight": 4.0})
    terms, real, _ = controlled_step(tr, "D")
    grad = _input_gradients_by_differences(tr.nets["D"], real)
    expected = 0.5 * 4.0 * grad.pow(2).sum(1).mean()
    assert terms["d_r1"].item() == pytest.approx(expected.item(), rel=1e-4)
    assert r1_penalty(tr.nets["D"], real).item() == pytest.approx(
        grad.pow(2).sum(1).mean().item(), rel=1e-4
    )


def test_gradient_penalty_against_hand_computed_gradients(toy_cfg, tmp_path):
    # lambda = 0.1 (the WGAN-GP authors' toy setting): lambda * E (||grad D(x_hat)|| - 1)^2 at
    # x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample (Gulrajani et al. 2017, Alg. 1)
    tr = trainer(toy_cfg, tmp_path, **{"train.loss": "wgan-gp", "tricks.gp_weight": 0.1})
    terms, real, z = controlled_step(tr, "D")
    assert set(terms) == {"d_adv", "d_gp"}
    with torch.no_grad():
        fake = tr.nets["G"](z)
    eps = torch.rand((64, 1), generator=torch.Generator().manual_seed(1))  # the step's stream
    x_hat = eps * real + (1 - eps) * fake
    grad = _input_gradients_by_differences(tr.nets["D"], x_hat)
    expected = 0.1 * (grad.norm(dim=1) - 1).pow(2).mean()
    assert terms["d_gp"].item() == pytest.approx(expected.item(), rel=1e-4)


def test_feature_matching_replaces_the_generator_loss(toy_cfg, tmp_path):
    tr = trainer(toy_cfg, tmp_path, **{"tricks.feature_matching": True})
    assert next(p for p in tr.phases if p.name == "G").uses_data
    terms, real, z = controlled_step(tr, "G")
    D, G = tr.nets["D"], tr.nets["G"]
    expected = tricks.feature_matching_loss(D.features(real), D.features(G(z)))
    assert set(terms) == {"g_fm"}
    assert terms["g_fm"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_unrolled_generator_loss_uses_the_unrolled_discriminator(toy_cfg, tmp_path):
    tr = trainer(toy_cfg, tmp_path, **{"tricks.unrolled_steps": 3})
    tr.train_step()  # D's optimizer now has Adam moments to continue from
    terms, real, z = controlled_step(tr, "G")
    D, G = tr.nets["D"], tr.nets["G"]
    fake = G(z)
    family = LOSSES.get("gan")
    opt = tr.optimizers["D"]
    ahead = tricks.unroll(D, lambda m: family.d_loss(m(real), m(fake)), 3, opt, 0.0, (0.0, 0.0))
    expected = family.g_losses["nonsaturating"](ahead(fake))
    plain = family.g_losses["nonsaturating"](D(fake))
    assert terms["g_adv"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert not math.isclose(terms["g_adv"].item(), plain.item(), rel_tol=1e-4)


def test_packing_gives_one_decision_per_pack(toy_cfg, tmp_path):
    tr = trainer(toy_cfg, tmp_path, **{"tricks.pack": 4})
    assert tr.nets["D"](tr.data.x[:64]).shape == (16,)
    assert tr.variant.discriminate(tr.nets, tr.data.x[:10]).shape == (10,)  # contour frames


# Every trick with every loss it claims to support (label tricks need target labels).
TRICK_SETTINGS = {
    "label_smoothing": {"tricks.label_smoothing": 0.1},
    "soft_noisy_labels": {"tricks.soft_labels": 0.2, "tricks.label_flip": 0.05},
    "instance_noise": {"tricks.instance_noise": 0.1},
    "minibatch_disc": {"tricks.minibatch_disc": True, "tricks.mbd_kernels": 8},
    "feature_matching": {"tricks.feature_matching": True},
    "historical_averaging": {"tricks.historical_averaging": 1e-3},
    "vbn": {"tricks.vbn": 16},
    "spectral_norm": {"tricks.spectral_norm": True},
    "two_time_scale": {"train.lr_d": 4e-3, "train.lr_g": 1e-3},
    "ema": {"train.ema": 0.9},
    "pack": {"tricks.pack": 4},
    "unrolled": {"tricks.unrolled_steps": 2},
    "k_d_steps": {"train.d_steps": 3},
    "r1": {"tricks.r1_weight": 1.0},
    "gradient_penalty": {"tricks.gp_weight": 1.0},
}
LOSS_NAMES = ["gan", "lsgan", "wgan", "wgan-gp", "hinge"]


def supported(trick, loss):
    settings = TRICK_SETTINGS[trick]
    if any(k in settings for k in ("tricks.label_smoothing", "tricks.soft_labels")):
        return LOSSES.get(loss).d_loss_targets is not None
    if trick == "minibatch_disc":
        return loss != "wgan-gp"  # per-sample gradient penalty undefined
    if trick == "gradient_penalty":
        return loss not in ("wgan", "wgan-gp")  # clipping, or already penalised
    return True


CASES = [(t, l) for t in TRICK_SETTINGS for l in LOSS_NAMES if supported(t, l)]


@pytest.mark.parametrize("trick, loss", CASES)
def test_every_trick_trains_with_every_supported_loss(toy_cfg, tmp_path, trick, loss):
    tr = trainer(toy_cfg, tmp_path, **{"train.loss": loss, **TRICK_SETTINGS[trick]})
    before = {k: [p.detach().clone() for p in tr.nets[k].parameters()] for k in ("G", "D")}
    for _ in range(6):
        tr.train_step()
    record = tr._flush_stats(0.0, 6)  # means of the logged values (no pictures: fast)
    losses = {k: v for k, v in record.items() if k.startswith("loss/")}
    assert losses and all(math.isfinite(v) for v in losses.values())
    for k in ("G", "D"):
        after = list(tr.nets[k].parameters())
        assert any(not torch.equal(a, b) for a, b in zip(before[k], after)), k


def test_vbn_generator_loads_without_training_code(toy_cfg, tmp_path):
    tr = trainer(toy_cfg, tmp_path, **{"tricks.vbn": 8})
    ref = tr.nets["G"].vbn_ref_z.clone()
    assert ref.abs().sum() > 0  # the reference batch was drawn
    tr.train(10)
    G = load_generator(tmp_path / "run", ema=False)
    assert torch.equal(G.net.vbn_ref_z, ref)
    z = torch.randn(5, 2)
    with torch.no_grad():
        assert torch.allclose(G.net(z), tr.nets["G"](z))


@pytest.mark.parametrize(
    "overrides",
    [
        {
            "tricks.historical_averaging": 1e-2,
            "tricks.label_flip": 0.1,
            "tricks.instance_noise": 0.1,
            "tricks.instance_noise_steps": 20,  # fixed span: the schedule ignores --steps
        },
        {"tricks.unrolled_steps": 2, "tricks.pack": 2, "train.loss": "wgan-gp"},
    ],
)
def test_resume_with_tricks_equals_uninterrupted(toy_cfg, tmp_path, overrides):
    _assert_resume_bitwise(toy_cfg, tmp_path, 13, **{"diagnose.enabled": False, **overrides})


def test_historical_average_state_is_in_the_checkpoint(toy_cfg, tmp_path):
    cfg = toy_cfg(**{"tricks.historical_averaging": 1e-2, "diagnose.enabled": False})
    api.train(cfg, tmp_path / "run", steps=10)
    ckpt = RunDir(tmp_path / "run").load_checkpoint()
    assert any(k.startswith("variant.hist.D.") for k in ckpt.tensors)
    assert ckpt.tensors["variant.hist_count.G"].item() == 10


def test_lr_decay_reaches_the_last_step_rate(toy_cfg, tmp_path):
    tr = trainer(toy_cfg, tmp_path, **{"train.lr_decay": 0.5, "train.steps": 20})
    lr0 = {n: o.param_groups[0]["lr"] for n, o in tr.optimizers.items()}
    for _ in range(10):
        tr.train_step()
    assert all(o.param_groups[0]["lr"] == lr0[n] for n, o in tr.optimizers.items())
    for _ in range(10):
        tr.train_step()
    for n, o in tr.optimizers.items():  # step 19 trained with 1/10 of the rate
        assert o.param_groups[0]["lr"] == pytest.approx(lr0[n] / 10)


def test_schedules_over_the_run_resume_exactly(toy_cfg, tmp_path):
    # lr decay and instance noise span train.steps: stop half way through a 26-step run and
    # resume it with the same target, against the uninterrupted run
    over = {
        "train.lr_decay": 0.5,
        "tricks.instance_noise": 0.1,
        "train.steps": 26,
        "train.deterministic": True,
        "diagnose.enabled": False,
    }
    api.train(toy_cfg(**over), tmp_path / "full")
    cfg = toy_cfg(**over)
    Trainer(cfg, RunDir.create(tmp_path / "half", cfg)).train(13)
    api.resume(tmp_path / "half")
    full = RunDir(tmp_path / "full").load_checkpoint()
    half = RunDir(tmp_path / "half").load_checkpoint()
    assert full.step == half.step == 26
    diff = [
        k
        for k in full.tensors
        if not k.startswith("rng.") and not torch.equal(full.tensors[k], half.tensors[k])
    ]
    assert not diff, diff[:5]
    lrs = [g["lr"] for g in half.meta["optimizers"]["G"]["param_groups"]]
    assert lrs == [pytest.approx(cfg.train.lr_g / 13)]


def test_network_tricks_train_with_dcgan(digits_cfg, tmp_path):
    over = {
        "tricks.pack": 2,
        "tricks.minibatch_disc": True,
        "tricks.mbd_kernels": 4,
        "tricks.spectral_norm": True,
        "tricks.vbn": 8,
        "tricks.feature_matching": True,
        "diagnose.enabled": False,
    }
    cfg = digits_cfg(**over)
    tr = Trainer(cfg, RunDir.create(tmp_path / "run", cfg))
    for _ in range(3):
        tr.train_step()
    record = tr._flush_stats(0.0, 3)
    assert math.isfinite(record["loss/g_fm"]) and math.isfinite(record["loss/d_adv"])
    tr.save_checkpoint()
    G = load_generator(tmp_path / "run", ema=False)  # rebuilt from its spec, VBN included
    assert G.sample(4, seed=0).shape == (4, 1, 8, 8)
