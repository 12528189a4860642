"""The adversarial autoencoder (gankit.variants.aae): priors, labelling rules, the labelled
subset, phases per mode, the latent picture, exports and option errors. The registry-driven
contract suite (test_contract.py) covers its first preset (Gaussian prior)."""

from __future__ import annotations

import pytest
import torch

from gankit import api
from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.networks.aae import mixture_params
from gankit.presets import preset_config
from gankit.runs import RunDir, load_generator, load_model
from gankit.training.loop import Trainer
from gankit.variants._aae_priors import (
    draw_prior,
    label_by_confidence,
    label_by_majority,
    labelled_subset,
)
from tests.variants.test_contract import _params, make_trainer, tiny_config

MIXTURE = [10.0, 4.0, 1.0, 0.25]
CATEGORICAL = {"options.prior": "categorical", "options.clusters": 4}
SEMI = {"options.prior": "categorical", "options.clusters": 10, "options.labels": 50}
MIX2D = {"options.prior": "mixture", "model.z_dim": 2}
CONV = {**CATEGORICAL, "options.conv": True, "model.d_channels": 8, "model.g_channels": 8}


@pytest.fixture(autouse=True)
def _one_thread():
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det)


# --- priors -----------------------------------------------------------------------------------
def test_gaussian_prior_statistics():
    y, z = draw_prior("gaussian", 20000, 3, 0, torch.Generator().manual_seed(0))
    assert y is None and z.shape == (20000, 3)
    assert z.mean(0).abs().max() < 0.03
    assert (torch.cov(z.T) - torch.eye(3)).abs().max() < 0.05


def test_categorical_prior_statistics():
    y, z = draw_prior("categorical", 20000, 2, 4, torch.Generator().manual_seed(0))
    assert y.shape == (20000, 4) and z.shape == (20000, 2)
    assert torch.equal(y.sum(1), torch.ones(20000))  # one-hot rows
    assert set(y.unique().tolist()) == {0.0, 1.0}
    assert (y.mean(0) - 0.25).abs().max() < 0.015  # Cat(K) uniform
    assert z.mean(0).abs().max() < 0.03 and (z.std(0) - 1).abs().max() < 0.03


def test_mixture_prior_statistics():
    n = 50000
    _, z = draw_prior("mixture", n, 2, 10, torch.Generator().manual_seed(0), MIXTURE)
    centres, maps = mixture_params(10, *MIXTURE[1:])
    assert torch.allclose(centres.norm(dim=1), torch.full((10,), 4.0))
    comp = torch.cdist(z, centres).argmin(1)  # components are far apart next to their std
    assert ((torch.bincount(comp, minlength=10) / n) - 0.1).abs().max() < 0.01
    for k in range(10):
        pts = z[comp == k]
        assert (pts.mean(0) - centres[k]).norm() < 0.06
        # in the component's own frame: std 1 along the radius, 0.25 across it
        local = (pts - centres[k]) @ torch.linalg.inv(maps[k]).T
        assert (local.std(0) - 1).abs().max() < 0.06


def test_decoder_places_mixture_codes_like_the_prior():
    """The sample export's decoder maps (component, eps) to the same point as the prior."""
    dec = build_network("aae_decoder", z_dim=2, out_shape=[3], hidden=8, layers=1,
                        tanh=False, mixture=MIXTURE)  # fmt: skip
    centres, maps = mixture_params(10, *MIXTURE[1:])
    eps = torch.randn(5, 2)
    comp = torch.tensor([0, 3, 3, 7, 9])
    want = centres[comp] + torch.einsum("nij,nj->ni", maps[comp], eps)
    assert torch.allclose(dec.place(torch.nn.functional.one_hot(comp, 10).float(), eps), want)


# --- cluster labelling and the labelled subset -------------------------------------------------
def test_label_by_confidence_uses_the_most_confident_training_point():
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5], [0.1, 0.8, 0.1]])
    labels = torch.tensor([7, 2, 2, 5])
    # cluster 0 -> point 0 (0.9), cluster 1 -> point 3 (0.8), cluster 2 -> point 2 (0.5)
    assert label_by_confidence(probs, labels).tolist() == [7, 5, 2]
    # majority differs: cluster 0 holds points 0 and 1 (classes 7, 2) -> tie -> lowest class
    assign = probs.argmax(1)
    assert label_by_majority(assign, labels, 3).tolist() == [2, 5, 2]


def test_labelled_subset_is_deterministic_and_balanced():
    y = torch.arange(10).repeat_interleave(30)[torch.randperm(300)]
    a, b = labelled_subset(y, 43, seed=1), labelled_subset(y, 43, seed=1)
    assert torch.equal(a, b) and len(a.unique()) == 43
    counts = torch.bincount(y[a], minlength=10)
    assert counts.tolist() == [5, 5, 5, 4, 4, 4, 4, 4, 4, 4]
    assert not torch.equal(labelled_subset(y, 43, seed=2), a)
    with pytest.raises(ConfigError, match="more than the 300"):
        labelled_subset(y, 301, seed=0)
    with pytest.raises(ConfigError, match="class"):
        labelled_subset(torch.cat([y, torch.zeros(100, dtype=torch.long)]), 350, seed=0)


# --- phases ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mode", [CATEGORICAL, SEMI, MIX2D, CONV], ids=["categorical", "semi", "mix", "conv"]
)
def test_each_phase_updates_only_its_modules(mode, tmp_path):
    tr = make_trainer("aae", tmp_path / "run", **mode)
    want = {"recon": {"E", "G"}, "D": {"D"}, "E_adv": {"E"}, "sup": {"E"}}
    if "options.clusters" in mode:
        want["D"] = {"D", "D_y"}
    names = [p.name for p in tr.phases]
    assert names == ["recon", "D", "E_adv"] + (["sup"] if "options.labels" in mode else [])
    phases = list(tr.phases)
    tr.train_step()
    for phase in phases:
        assert set(phase.modules) == want[phase.name]
        tr.phases = [phase]
        before = _params(tr.nets)
        tr.train_step()
        after = _params(tr.nets)
        changed = {m for (m, k), v in before.items() if not torch.equal(v, after[(m, k)])}
        assert changed == want[phase.name], f"phase {phase.name} changed {changed}"


def test_regularisation_phase_takes_its_own_rate(tmp_path):
    """options.lr_reg sets E's rate in the regularisation phase only (0: train.lr_g)."""
    tr = make_trainer("aae", tmp_path / "a", **{**CATEGORICAL, "options.lr_reg": 0.0123})
    rates = {p.name: p.lr for p in tr.phases}
    assert rates["E_adv"] == 0.0123
    assert rates["recon"] == tr.cfg.train.lr_g != 0.0123
    assert rates["D"] == tr.cfg.train.lr_d
    tr = make_trainer("aae", tmp_path / "b", **CATEGORICAL)
    assert {p.name: p.lr for p in tr.phases}["E_adv"] == tr.cfg.train.lr_g


def test_semi_supervised_resume_is_exact(tmp_path):
    """The sup phase draws its labelled minibatch from the saved noise stream."""
    api.train(tiny_config("aae", **SEMI), tmp_path / "full", steps=4)
    cfg = tiny_config("aae", **SEMI)
    Trainer(cfg, RunDir.create(tmp_path / "half", cfg)).train(2)
    api.resume(tmp_path / "half")
    a = RunDir.open(tmp_path / "full").load_checkpoint().tensors
    b = RunDir.open(tmp_path / "half").load_checkpoint().tensors
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- exports and the picture ---------------------------------------------------------------------
def test_categorical_exports(tmp_path):
    api.train(tiny_config("aae", **CATEGORICAL), tmp_path / "run", steps=2)
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    probs = load_model(tmp_path / "run", export="classify")(x)
    assert probs.shape == (6, 4) and torch.allclose(probs.sum(1), torch.ones(6))
    codes = load_model(tmp_path / "run", export="apply")(x)
    assert codes.shape == (6, 4 + 8) and torch.allclose(codes[:, :4], probs)
    G = load_generator(tmp_path / "run")
    assert G.layout.categorical == (4,)
    a, b = G.sample(3, seed=0, codes={0: 1}), G.sample(3, seed=0, codes={0: 2})
    assert a.shape == (3, 1, 16, 16) and not torch.equal(a, b)  # --code picks the cluster
    recon = load_model(tmp_path / "run", export="reconstruct")(x)
    assert torch.allclose(recon, G.net(codes), atol=1e-6)


def test_conv_networks_encode_and_decode_images(tmp_path):
    """options.conv: a strided-conv encoder and the DCGAN generator as decoder, same exports."""
    api.train(tiny_config("aae", **CONV), tmp_path / "run", steps=2)
    E = load_model(tmp_path / "run", export="apply")
    assert any(isinstance(m, torch.nn.Conv2d) for m in E.net.modules())
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    codes = E(x)
    assert codes.shape == (5, 4 + 8)
    recon = load_model(tmp_path / "run", export="reconstruct")(x)
    assert recon.shape == x.shape and recon.abs().max() <= 1
    G = load_generator(tmp_path / "run")
    assert torch.allclose(recon, G.net(codes), atol=1e-6)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.net.modules())


def test_mixture_latent_picture_is_written(tmp_path):
    over = {**MIX2D, "log.toy_frames": True, "log.sample_every": 2}
    api.train(tiny_config("aae", **over), tmp_path / "run", steps=2)
    frames = sorted((tmp_path / "run" / "frames").glob("step_*.png"))
    assert frames and frames[-1].stat().st_size > 1000
    G = load_generator(tmp_path / "run")
    assert G.layout.categorical == (10,)  # the sampler draws (component, eps)


# --- option errors -------------------------------------------------------------------------------
def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="clusters=1"):
        preset_config("aae-cluster-fashion", {"options.clusters": 1})
    with pytest.raises(ConfigError, match="prior=categorical"):
        preset_config("aae-fashion", {"options.labels": 10})
    with pytest.raises(ConfigError, match="options.prior="):
        preset_config("aae-fashion", {"options.prior": "laplace"})
    with pytest.raises(ConfigError, match="model.z_dim=2"):
        make_trainer("aae", tmp_path / "a", **{"options.prior": "mixture"})  # z_dim 8
    with pytest.raises(ConfigError, match="more than the"):
        make_trainer("aae", tmp_path / "b", **{**SEMI, "options.labels": 100000})
    with pytest.raises(ConfigError, match="options.clusters=10"):
        make_trainer("aae", tmp_path / "c", **{**SEMI, "options.clusters": 7})
    with pytest.raises(ConfigError, match="lr_reg=-1"):
        preset_config("aae-fashion", {"options.lr_reg": -1.0})
    with pytest.raises(ConfigError, match="options.conv needs images"):
        make_trainer("aae", tmp_path / "d", **{"data.name": "ring", "options.conv": True})
