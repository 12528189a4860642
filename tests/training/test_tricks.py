"""Each trick's formula against hand-computed values, and the combinations it rejects."""

import math

import pytest
import torch
from torch import nn

from gankit import tricks
from gankit.config import TricksConfig
from gankit.errors import ConfigError
from gankit.losses import LOSSES
from gankit.networks import build_network
from gankit.presets import preset_config
from gankit.training.schedule import lr_decay_factor


def test_one_sided_label_smoothing():
    real, fake = tricks.d_targets(TricksConfig(label_smoothing=0.1), 4, 3, "cpu", None)
    assert real.tolist() == pytest.approx([0.9] * 4) and fake.tolist() == [0.0] * 3


def test_soft_labels_stay_in_their_bands():
    gen = torch.Generator().manual_seed(0)
    real, fake = tricks.d_targets(TricksConfig(soft_labels=0.3), 5000, 5000, "cpu", gen)
    assert real.min() >= 0.7 and real.max() <= 1.0 and real.mean() == pytest.approx(0.85, abs=0.01)
    assert fake.min() >= 0.0 and fake.max() <= 0.3 and fake.mean() == pytest.approx(0.15, abs=0.01)


def test_noisy_labels_flip_with_the_given_probability():
    gen = torch.Generator().manual_seed(0)
    k = TricksConfig(label_smoothing=0.1, label_flip=0.2)
    real, fake = tricks.d_targets(k, 20000, 20000, "cpu", gen)
    assert sorted(real.unique().tolist()) == pytest.approx([0.1, 0.9])  # 1 - 0.9 when flipped
    assert set(fake.unique().tolist()) == {0.0, 1.0}
    assert (real < 0.5).float().mean() == pytest.approx(0.2, abs=0.01)
    assert fake.mean() == pytest.approx(0.2, abs=0.01)


@pytest.mark.parametrize(
    "schedule, half",
    [("linear", 0.5), ("cosine", 0.5), ("exponential", 0.1)],  # 0.01 ** 0.5 = 0.1
)
def test_instance_noise_schedules(schedule, half):
    k = TricksConfig(instance_noise=0.2, instance_noise_schedule=schedule)
    assert tricks.instance_noise_std(k, 0, 100) == pytest.approx(0.2)
    assert tricks.instance_noise_std(k, 50, 100) == pytest.approx(0.2 * half)
    assert tricks.instance_noise_std(k, 100, 100) == 0.0
    assert tricks.instance_noise_std(k, 500, 100) == 0.0


def test_instance_noise_steps_override_the_run_length():
    k = TricksConfig(instance_noise=0.2, instance_noise_steps=10)
    assert tricks.instance_noise_std(k, 5, 1000) == pytest.approx(0.1)
    assert tricks.instance_noise_std(k, 10, 1000) == 0.0
    assert tricks.instance_noise_std(TricksConfig(), 0, 1000) == 0.0


def test_add_noise_uses_the_given_stream():
    x = torch.zeros(3, 2)
    got = tricks.add_noise(x, 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(got, 0.5 * torch.randn(3, 2, generator=torch.Generator().manual_seed(4)))
    assert tricks.add_noise(x, 0.0, None) is x


def test_feature_matching_by_hand():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]], requires_grad=True)  # mean (1, 1)
    loss = tricks.feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx(1 + 4)
    loss.backward()  # d/dfake_i = -2 (mean_real - mean_fake) / N
    assert fake.grad.tolist() == [[-1.0, -2.0], [-1.0, -2.0]]


def test_historical_average_by_hand():
    w = nn.Parameter(torch.tensor([1.0]))
    module = nn.Module()
    module.w = w
    hist = tricks.HistoricalAverage(weight=0.5)
    assert hist.term("D", module).item() == 0.0  # no past yet; remembers theta_1 = 1
    with torch.no_grad():
        w.fill_(3.0)
    assert hist.term("D", module).item() == pytest.approx(0.5 * (3 - 1) ** 2)  # mean of {1}
    with torch.no_grad():
        w.fill_(5.0)
    assert hist.term("D", module).item() == pytest.approx(0.5 * (5 - 2) ** 2)  # mean of {1, 3}
    # the state round-trips (resume continues exactly)
    again = tricks.HistoricalAverage(weight=0.5)
    again.load_state({k: v.clone() for k, v in hist.state().items()})
    with torch.no_grad():
        w.fill_(0.0)
    assert again.term("D", module).item() == pytest.approx(0.5 * 3**2)  # mean of {1, 3, 5}
    assert hist.term("D", module).item() == pytest.approx(0.5 * 3**2)


def test_historical_average_gradient_pulls_towards_the_past():
    module = nn.Linear(1, 1, bias=False)
    hist = tricks.HistoricalAverage(weight=1.0)
    hist.term("G", module)
    with torch.no_grad():
        module.weight.add_(1.0)
    hist.term("G", module).backward()
    assert module.weight.grad.item() == pytest.approx(2.0)  # d/dw (w - w0)^2 = 2 (w - w0)


def test_unroll_continues_d_s_adam_state_by_hand():
    D = nn.Linear(1, 1, bias=False)
    opt = torch.optim.Adam(D.parameters(), lr=0.1, betas=(0.5, 0.9))
    D.weight.grad = torch.tensor([[1.0]])
    opt.step()  # one real step: m = 0.5, v = 0.1, t = 1, weight moved
    w0 = D.weight.item()
    fake = torch.tensor([[2.0]], requires_grad=True)

    def d_loss_of(m):  # loss = w * fake: gradient w.r.t. w is fake = 2
        return m(fake).sum()

    unrolled = tricks.unroll(D, d_loss_of, 1, opt, lr=0.0, betas=(0.0, 0.0))  # opt's win
    m, v, t = 0.5 * 0.5 + 0.5 * 2, 0.9 * 0.1 + 0.1 * 4, 2
    m_hat, v_hat = m / (1 - 0.5**t), v / (1 - 0.9**t)
    w1 = w0 - 0.1 * m_hat / (math.sqrt(v_hat + 1e-16) + 1e-8)
    assert unrolled.params["weight"].item() == pytest.approx(w1, rel=1e-6)
    assert D.weight.item() == w0 and opt.state[D.weight]["step"].item() == 1  # untouched
    # second order (Metz et al. 2016, Eq. 7): G's loss w_1 * x depends on fake through the
    # update; d w_1 / d fake = -lr d/dg [m_hat / sqrt(v_hat)] * d g / d fake, with g = fake
    x = torch.tensor([[3.0]])
    (grad,) = torch.autograd.grad(unrolled(x).sum(), fake)
    g, h = 2.0, 1e-4

    def w_of(g):
        m, v = 0.25 + 0.5 * g, 0.09 + 0.1 * g * g
        return w0 - 0.1 * (m / 0.75) / (math.sqrt(v / 0.19 + 1e-16) + 1e-8)

    expected = 3.0 * (w_of(g + h) - w_of(g - h)) / (2 * h)
    assert grad.item() == pytest.approx(expected, rel=1e-3) and abs(expected) > 1e-3


def test_unroll_without_state_starts_from_zero_moments():
    D = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        D.weight.fill_(0.5)
    fake = torch.tensor([[2.0]])
    unrolled = tricks.unroll(D, lambda m: m(fake).sum(), 1, None, lr=0.1, betas=(0.5, 0.999))
    assert unrolled.params["weight"].item() == pytest.approx(0.5 - 0.1)  # lr * g / |g|


def test_weight_clipper():
    net = nn.Linear(3, 3)
    with torch.no_grad():
        net.weight.mul_(100)
    tricks.weight_clipper(net, 0.01)()
    assert all(p.abs().max() <= 0.01 for p in net.parameters())


def test_defaults_of_the_lipschitz_constraints():
    k = TricksConfig()
    assert tricks.gp_weight(k, LOSSES.get("wgan-gp")) == 10.0
    assert tricks.gp_weight(k, LOSSES.get("gan")) == 0.0
    assert tricks.gp_weight(TricksConfig(gp_weight=1.0), LOSSES.get("gan")) == 1.0
    assert tricks.clip_value(k, LOSSES.get("wgan")) == 0.01
    assert tricks.clip_value(k, LOSSES.get("hinge")) == 0.0


def _nets(cfg):
    return {
        "G": build_network("mlp_g", z_dim=2, out_shape=[2], **tricks.generator_options(cfg)),
        "D": build_network("mlp_d", in_shape=[2], **tricks.discriminator_options(cfg)),
    }


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"train.loss": "wgan", "tricks.label_smoothing": 0.1}, ["label_smoothing", "wgan"]),
        ({"train.loss": "hinge", "tricks.label_flip": 0.1}, ["label_flip", "hinge"]),
        ({"train.loss": "wgan-gp", "tricks.soft_labels": 0.1}, ["soft_labels", "wgan-gp"]),
        ({"train.loss": "gan", "tricks.clip_value": 0.1}, ["clip_value", "gan"]),
        ({"train.loss": "wgan", "tricks.gp_weight": 10}, ["gp_weight", "wgan"]),
        ({"train.loss": "wgan-gp", "tricks.gp_weight": 0}, ["gp_weight", "wgan-gp"]),
        ({"train.loss": "wgan-gp", "tricks.minibatch_disc": True}, ["minibatch_disc", "wgan-gp"]),
        ({"tricks.r1_weight": 1.0, "tricks.minibatch_disc": True}, ["minibatch_disc", "r1_weight"]),
        (
            {"tricks.feature_matching": True, "tricks.unrolled_steps": 2},
            ["feature_matching", "unrolled_steps"],
        ),
    ],
)
def test_nonsense_combinations_are_config_errors(overrides, words):
    with pytest.raises(ConfigError) as err:  # when the config is read, before any run exists
        preset_config("toy-ring", overrides)
    message = str(err.value)
    assert all(w in message for w in words) and "\n" not in message


@pytest.mark.parametrize(
    "key, value", [("pack", 2), ("minibatch_disc", True), ("spectral_norm", True), ("vbn", 4)]
)
def test_network_tricks_need_a_network_that_supports_them(key, value):
    cfg = preset_config("toy-ring", {f"tricks.{key}": value})
    plain = {
        "G": build_network("mlp_g", z_dim=2, out_shape=[2]),
        "D": build_network("mlp_d", in_shape=[2]),
    }  # e.g. a variant's own networks
    with pytest.raises(ConfigError, match=key):
        tricks.check_tricks(cfg, plain["D"], plain["G"])
    own = _nets(cfg)
    tricks.check_tricks(cfg, own["D"], own["G"])  # gan's own networks: fine


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"tricks.pack": 3}, "batch_size"),  # 256 is not a multiple of 3
        ({"tricks.label_smoothing": 0.7}, "label_smoothing"),
        ({"tricks.instance_noise_schedule": "step"}, "instance_noise_schedule"),
        ({"tricks.unrolled_steps": -1}, "unrolled_steps"),
    ],
)
def test_config_ranges(overrides, key):
    with pytest.raises(ConfigError, match=key):
        preset_config("toy-ring", overrides)


def test_lr_decay_factor():
    assert lr_decay_factor(0.0, 99, 100) == 1.0
    assert lr_decay_factor(0.5, 49, 100) == 1.0
    assert lr_decay_factor(0.5, 50, 100) == 1.0  # the decay starts here...
    assert lr_decay_factor(0.5, 75, 100) == pytest.approx(0.5)
    assert lr_decay_factor(0.5, 99, 100) == pytest.approx(1 / 50)  # ...never reaches 0


def test_sn_gain_makes_a_k_lipschitz_discriminator():
    """tricks.sn_gain scales a spectrally normalised D's logits by K (for data whose modes
    are much narrower than unit scale, e.g. the ring's std 0.01): the built D's output is K
    times that of the same weights without the gain."""
    cfg = preset_config("toy-ring", {"tricks.spectral_norm": True, "tricks.sn_gain": 100.0})
    D = _nets(cfg)["D"]
    assert D.spec["kwargs"]["sn_gain"] == 100.0
    plain = build_network("mlp_d", in_shape=[2], spectral_norm=True)
    plain.load_state_dict(D.state_dict())
    x = torch.randn(16, 2)
    D.eval(), plain.eval()  # no power-iteration update between the two calls
    assert torch.allclose(D(x), 100.0 * plain(x), rtol=1e-5, atol=1e-5)
    tricks.check_tricks(cfg, D)
    with pytest.raises(ConfigError, match="sn_gain"):  # a D built without the gain
        tricks.check_tricks(cfg, plain)


@pytest.mark.parametrize(
    "overrides",
    [{"tricks.sn_gain": 10.0}, {"tricks.spectral_norm": True, "tricks.sn_gain": 0.0}],
)
def test_sn_gain_needs_spectral_norm_and_a_positive_value(overrides):
    with pytest.raises(ConfigError, match="tricks.sn_gain"):
        preset_config("toy-ring", overrides)
