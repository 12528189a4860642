"""SAGAN (Zhang et al. 2018): networks, spectral norm in G and D, attention placement, the
conditional and unconditional modes, gamma in stats.jsonl, and the recipe of the presets."""

import json

import pytest
import torch

from gankit import api
from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.nn.attention import SelfAttention2d
from gankit.presets import preset_config

TINY = {
    "data.name": "digits", "data.image_size": 16, "model.g_channels": 8,
    "model.d_channels": 8, "model.z_dim": 8, "train.batch_size": 16, "log.progress": False,
    "log.stats_every": 1, "log.sample_every": 0, "log.checkpoint_every": 4,
    "diagnose.enabled": False, "eval.metrics": "", "log.n_fixed": 16,
}  # fmt: skip


def spectral_layers(net):
    from torch.nn.utils import parametrize

    layers = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    return [parametrize.is_parametrized(m, "weight") for m in layers]


@pytest.mark.parametrize("side", [16, 28, 32])
def test_networks_shapes_attention_and_spectral_norm(side):
    half = side // 2
    G = build_network(
        "sagan_g", z_dim=8, image_size=side, channels=3, width=8, num_classes=4,
        attention_res=half,
    )  # fmt: skip
    D = build_network(
        "sagan_d", image_size=side, channels=3, width=8, num_classes=4, attention_res=half
    )
    z, y = torch.randn(5, 8), torch.randint(0, 4, (5,))
    x = G(z, y)
    assert x.shape == (5, 3, side, side) and float(x.abs().max()) <= 1
    assert D(x, y).shape == (5,)
    for net in (G, D):
        assert sum(isinstance(m, SelfAttention2d) for m in net.modules()) == 1
        assert all(spectral_layers(net))  # SN on every weight of G and D (Sec. 4.1)


def test_a_side_without_feature_maps_is_one_clear_error():
    with pytest.raises(ConfigError, match="attention_res=10.*pick one of those"):
        build_network("sagan_g", z_dim=8, image_size=28, channels=1, width=8, attention_res=10)


def test_the_projection_term_uses_the_label():
    torch.manual_seed(0)
    D = build_network(
        "sagan_d", image_size=16, channels=1, width=8, num_classes=3
    ).eval()  # SN: no power step
    x = torch.randn(4, 1, 16, 16)
    a, b = D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long))
    phi = D.features(x)
    want = D.psi(phi).flatten() + (D.embed(torch.zeros(4, dtype=torch.long)) * phi).sum(1)
    assert torch.allclose(a, want, atol=1e-6) and not torch.allclose(a, b)


def test_presets_follow_the_paper_recipe():
    cfg = preset_config("sagan-fashion")
    t = cfg.train
    assert (t.loss, t.lr_d, t.lr_g, t.beta1, t.beta2) == ("hinge", 4e-4, 1e-4, 0.0, 0.9)
    assert cfg.options.conditional and cfg.options.attention_res == -1


def test_gamma_is_recorded_and_moves(tmp_path):
    api.train("sagan-fashion", tmp_path / "r", steps=4, overrides=TINY)
    rows = [json.loads(r) for r in (tmp_path / "r" / "stats.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "attn_gamma/G" in r]
    assert rows and all("attn_gamma/D" in r for r in rows)
    assert rows[0]["attn_gamma/G"] == 0.0 or abs(rows[0]["attn_gamma/G"]) < 1e-2
    assert rows[-1]["attn_gamma/D"] != 0.0  # the optimiser moves gamma off its zero start


def test_unconditional_and_no_attention_modes(tmp_path):
    run = api.train(
        "sagan-fashion", tmp_path / "u", steps=2,
        overrides={**TINY, "options.conditional": False, "options.attention_res": 0},
    )  # fmt: skip
    from gankit.runs import load_generator

    G = load_generator(run.path)
    assert G.sample(3).shape == (3, 1, 16, 16)
    stats = (tmp_path / "u" / "stats.jsonl").read_text()
    assert "attn_gamma" not in stats  # no attention blocks, nothing to record


def test_conditional_sampling_obeys_the_label(tmp_path):
    from gankit.runs import load_generator

    run = api.train("sagan-fashion", tmp_path / "c", steps=2, overrides=TINY)
    G = load_generator(run.path)
    a, b = G.sample(4, seed=0, label=1), G.sample(4, seed=0, label=2)
    assert a.shape == (4, 1, 16, 16) and not torch.equal(a, b)


def test_the_loss_plot_draws_the_gammas(tmp_path):
    from gankit import viz

    records = [{"step": i, "loss/d_adv": 1.0, "attn_gamma/G": 0.01 * i} for i in range(5)]
    assert viz.loss_plot(records, tmp_path / "a.png") is not None
    from PIL import Image

    with_gamma = Image.open(tmp_path / "a.png").size
    viz.loss_plot([{k: v for k, v in r.items() if "gamma" not in k} for r in records],
                  tmp_path / "b.png")  # fmt: skip
    assert with_gamma[0] > Image.open(tmp_path / "b.png").size[0]  # a third panel
