"""TransGAN (Jiang et al. 2021): generator / discriminator shapes at 28 and 32 px, grey and RGB,
the stage layout, the gradient penalty (WGAN-GP) on the LayerNorm critic, the presets' recipe
(hinge, DiffAugment on), option errors, and sampling a trained run."""

import json

import pytest
import torch

from gankit import api
from gankit.errors import ConfigError
from gankit.losses import gradient_penalty
from gankit.networks import build_network
from gankit.presets import preset_config
from gankit.runs import load_generator
from gankit.tricks import check_tricks

TINY = {
    "data.name": "digits", "data.image_size": 16, "options.g_dim": 32, "options.d_dim": 16,
    "options.d_depth": 1, "model.z_dim": 8, "train.batch_size": 8, "log.progress": False,
    "log.stats_every": 1, "log.sample_every": 0, "log.checkpoint_every": 4,
    "diagnose.enabled": False, "eval.metrics": "", "log.n_fixed": 16,
}  # fmt: skip


@pytest.mark.parametrize("side, channels, start", [(28, 1, 7), (32, 3, 8), (28, 3, 7), (32, 1, 8)])
def test_generator_and_discriminator_shapes(side, channels, start):
    G = build_network(
        "transgan_g", z_dim=16, image_size=side, channels=channels, dim=64, depths=[1, 1, 1],
        heads=4, grid=2,
    )  # fmt: skip
    assert G.sides == [start, 2 * start, 4 * start]  # two pixel-shuffle upsamplings
    assert [p.weight.shape[-1] for p in G.pos] == [64, 16, 4]  # channels / 4 each time
    D = build_network("transgan_d", image_size=side, channels=channels, patch=4, dim=16, depth=1)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, channels, side, side) and float(x.detach().abs().max()) <= 1
    assert D(x).shape == (5,) and D.features(x).shape == (5, 16)
    assert D.pos.weight.shape[1] == (side // 4) ** 2 + 1  # patches and the [CLS] token


def test_every_generator_output_pixel_depends_on_z():
    torch.manual_seed(0)
    G = build_network("transgan_g", z_dim=8, image_size=16, channels=1, dim=16, depths=[1, 1])
    z = torch.randn(1, 8, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda v: G(v).flatten(), z)  # (256, 8)
    assert (jac.abs().sum(1) > 0).all()


def test_network_errors_are_one_config_line():
    with pytest.raises(ConfigError, match="multiple of 4"):  # 30 px in 3 stages
        build_network("transgan_g", z_dim=8, image_size=30, channels=1, depths=[1, 1, 1])
    with pytest.raises(ConfigError, match="g_dim must be a multiple of 16"):
        build_network("transgan_g", z_dim=8, image_size=28, channels=1, dim=24, depths=[1, 1, 1])
    with pytest.raises(ConfigError, match="g_grid=3"):
        build_network("transgan_g", z_dim=8, image_size=28, channels=1, dim=16, depths=[1, 1],
                      grid=3)  # fmt: skip
    with pytest.raises(ConfigError, match="patch size 5"):
        build_network("transgan_d", image_size=28, channels=1, patch=5)
    with pytest.raises(ConfigError, match="options.g_depths"):
        preset_config("transgan-fashion", {"options.g_depths": "2,x"})
    with pytest.raises(ConfigError, match="options.d_patch"):
        preset_config("transgan-fashion", {"options.d_patch": 0})


def test_the_critic_is_per_sample_so_a_gradient_penalty_applies():
    torch.manual_seed(0)
    cfg = preset_config("transgan-fashion", {"train.loss": "wgan-gp"})  # the paper's loss
    D = build_network("transgan_d", image_size=28, channels=1, patch=4, dim=16, depth=1)
    G = build_network("transgan_g", z_dim=8, image_size=28, channels=1, dim=16, depths=[1, 1])
    check_tricks(cfg, D, G)  # no BatchNorm: WGAN-GP is not refused
    x = torch.randn(4, 1, 28, 28, requires_grad=True)
    (g,) = torch.autograd.grad(D(x)[0], x)
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0  # D(x_0) ignores the other images
    real, fake = torch.rand(4, 1, 28, 28) * 2 - 1, torch.rand(4, 1, 28, 28) * 2 - 1
    gp = gradient_penalty(D, real, fake, torch.rand(4, 1, 1, 1))
    gp.backward()  # the double backward through attention, GELU and LayerNorm
    assert torch.isfinite(gp) and gp > 0
    # the penalty trains D's body (an output bias does not change grad_x D, so not all)
    for w in (D.embed.proj.weight, D.blocks[0].attn.qkv.weight, D.blocks[0].mlp[0].weight):
        assert w.grad is not None and w.grad.abs().sum() > 0


def test_presets_follow_the_paper_recipe():
    for name in ("transgan-fashion", "transgan-folder"):
        cfg = preset_config(name, {"data.root": "/nowhere"} if "folder" in name else {})
        assert cfg.train.variant == "transgan" and cfg.train.loss == "hinge"  # see the preset
        assert cfg.tricks.diffaugment == "color,translation,cutout"  # Sec. 3.3
        assert (cfg.train.beta1, cfg.train.beta2) == (0.0, 0.99)
    assert preset_config("transgan-folder", {"data.root": "/x"}).data.image_size == 32


def test_a_short_run_trains_with_the_penalty_and_samples(tmp_path):
    over = {**TINY, "train.loss": "wgan-gp"}
    run = api.train("transgan-fashion", tmp_path / "r", steps=3, overrides=over)
    rows = [json.loads(r) for r in (tmp_path / "r" / "stats.jsonl").read_text().splitlines()]
    assert rows and all("loss/d_gp" in r and r["loss/d_gp"] >= 0 for r in rows)
    x = load_generator(run.path).sample(5, seed=0)
    assert x.shape == (5, 1, 16, 16) and torch.isfinite(x).all()
    arr = api.sample(run.path, 4, seed=1)
    assert arr.shape == (4, 1, 16, 16) and arr.dtype.name == "uint8"


def test_vector_data_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="TransGAN needs image data"):
        api.train("transgan-fashion", tmp_path / "v", steps=1,
                  overrides={**TINY, "data.name": "ring", "tricks.diffaugment": ""})  # fmt: skip
