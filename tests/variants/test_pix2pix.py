"""Pix2Pix (Isola et al. 2017): what the contract suite (test_contract.py, preset
pix2pix-edges) does not check: the loss terms of Eq. 1-4 against hand-computed values, the
Table 1 ablations (which networks, phases and terms exist), the errors, the fully
convolutional export and resume for the ablations."""

from __future__ import annotations

import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from gankit import api
from gankit.applying import apply
from gankit.data import load_dataset
from gankit.data.dataset import Dataset
from gankit.errors import ConfigError
from gankit.presets import PRESETS, preset_config
from gankit.runs import RunDir
from gankit.training.loop import Trainer
from gankit.variants import StepContext
from gankit.variants.pix2pix import Pix2Pix
from tests.variants.test_contract import (
    STEPS,
    _assert_bitwise,
    _checkpoint_tensors,
    tiny_config,
)

SMALL = {"model.g_channels": 8, "model.d_channels": 8, "options.d_layers": 1}


def pairs(c_x=1, c_b=1, side=28, n=4, b_side=None) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    b_side = b_side or side
    return Dataset(
        x=torch.rand(n, c_x, side, side, generator=gen) * 2 - 1,
        y=None,
        kind="image",
        name="pairs",
        fields={"b": torch.rand(n, c_b, b_side, b_side, generator=gen) * 2 - 1},
        aliases={"a": "x"},
    )


def config(objective="l1+cgan", **over):
    return preset_config("pix2pix-edges", {**SMALL, "options.objective": objective, **over})


def ctx_for(nets, x, b) -> StepContext:
    gen = torch.Generator().manual_seed(0)
    return StepContext(
        nets, x, None, len(x), 0, lambda n: torch.zeros(n, 1), rng=gen, batch={"x": x, "b": b}
    )


# --- the loss terms against hand-computed values ----------------------------------------------
class Half(nn.Module):
    """G(x) = w x with w = 0.5."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))

    def forward(self, x):
        return self.w * x


class ChannelSum(nn.Module):
    """D(input) = the sum over channels: one 'patch logit' per pixel, (N, 1, H, W)."""

    def __init__(self):
        super().__init__()
        self.v = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return self.v * x.sum(dim=1, keepdim=True)


def softplus(z: float) -> float:
    return math.log1p(math.exp(z))


X = torch.tensor([[[[0.2, -0.4]]]])  # (1, 1, 1, 2): two pixels = two patches
B = torch.tensor([[[[0.6, 1.0]]]])
# G(x) = [0.1, -0.2]; |b - G(x)| = [0.5, 1.2]
L1 = (0.5 + 1.2) / 2


@pytest.mark.parametrize(
    "objective, real, fake",
    [
        # cGAN: D sees (x, image): logits x + image
        ("l1+cgan", [0.2 + 0.6, -0.4 + 1.0], [0.2 + 0.1, -0.4 - 0.2]),
        ("cgan", [0.2 + 0.6, -0.4 + 1.0], [0.2 + 0.1, -0.4 - 0.2]),
        # GAN: D sees the image alone
        ("l1+gan", [0.6, 1.0], [0.1, -0.2]),
        ("gan", [0.6, 1.0], [0.1, -0.2]),
    ],
)
def test_loss_terms_match_the_paper_by_hand(objective, real, fake):
    cfg = config(objective)
    nets = {"G": Half(), "D": ChannelSum()}
    d_phase, g_phase = Pix2Pix().phases(cfg, nets)
    assert (d_phase.name, g_phase.name) == ("D", "G")
    d_terms = d_phase.loss(ctx_for(nets, X, B))
    g_terms = g_phase.loss(ctx_for(nets, X, B))
    # Eq. 1 for D (cross-entropy, patch decisions averaged), divided by 2 (Sec. 3.3)
    d_want = 0.5 * (sum(softplus(-r) for r in real) / 2 + sum(softplus(f) for f in fake) / 2)
    assert set(d_terms) == {"d_adv"}
    assert d_terms["d_adv"].item() == pytest.approx(d_want, rel=1e-6)
    # G: non-saturating -log D(x, G(x)) (Sec. 3.3), plus 100 |b - G(x)|_1 (Eq. 3-4)
    g_want = {"g_adv": sum(softplus(-f) for f in fake) / 2}
    if objective.startswith("l1"):
        g_want["g_l1"] = 100 * L1
    assert set(g_terms) == set(g_want)
    for name, value in g_want.items():
        assert g_terms[name].item() == pytest.approx(value, rel=1e-6), name


def test_l1_only_and_lambda_and_d_scale_by_hand():
    nets = {"G": Half()}
    (g_phase,) = Pix2Pix().phases(config("l1", **{"options.lambda_l1": 7.0}), nets)
    ctx = ctx_for(nets, X, B)
    assert g_phase.loss(ctx)["g_l1"].item() == pytest.approx(7.0 * L1)
    assert ctx.logs["L1"].item() == pytest.approx(L1)  # logged unweighted
    nets = {"G": Half(), "D": ChannelSum()}
    d_phase, _ = Pix2Pix().phases(config(**{"options.d_scale": 1.0}), nets)
    full = d_phase.loss(ctx_for(nets, X, B))["d_adv"].item()
    d_phase, _ = Pix2Pix().phases(config(), nets)
    assert d_phase.loss(ctx_for(nets, X, B))["d_adv"].item() == pytest.approx(full / 2)


def test_label_smoothing_applies_per_patch():
    nets = {"G": Half(), "D": ChannelSum()}
    d_phase, _ = Pix2Pix().phases(config("l1+gan", **{"tricks.label_smoothing": 0.1}), nets)
    got = d_phase.loss(ctx_for(nets, X, B))["d_adv"].item()
    t = 0.9  # one-sided: real target 1 - 0.1, fakes 0

    def bce(logit, target):
        return target * softplus(-logit) + (1 - target) * softplus(logit)

    want = 0.5 * ((bce(0.6, t) + bce(1.0, t)) / 2 + (softplus(0.1) + softplus(-0.2)) / 2)
    assert got == pytest.approx(want, rel=1e-6)


# --- the ablations of Table 1: which networks, phases and terms exist -------------------------
@pytest.mark.parametrize(
    "objective, d_in, g_terms, d_terms",
    [
        ("l1", None, {"g_l1"}, None),
        ("gan", 1, {"g_adv"}, {"d_adv"}),
        ("cgan", 2, {"g_adv"}, {"d_adv"}),
        ("l1+gan", 1, {"g_adv", "g_l1"}, {"d_adv"}),
        ("l1+cgan", 2, {"g_adv", "g_l1"}, {"d_adv"}),
    ],
)
def test_each_objective_has_its_networks_phases_and_terms(objective, d_in, g_terms, d_terms):
    cfg, data = config(objective), pairs()
    v = Pix2Pix()
    torch.manual_seed(0)
    nets = v.build(cfg, data)
    assert set(nets) == ({"G"} if d_in is None else {"G", "D"})
    if d_in is not None:  # conditional D: input and image stacked along channels
        assert nets["D"].features[0].in_channels == d_in
    phases = {p.name: p for p in v.phases(cfg, nets)}
    assert set(phases) == ({"G"} if d_terms is None else {"D", "G"})
    ctx = ctx_for(nets, data.x, data.fields["b"])
    assert set(phases["G"].loss(ctx)) == g_terms
    if d_terms is not None:
        assert set(phases["D"].loss(ctx)) == d_terms
        assert phases["D"].modules == ["D"] and phases["G"].modules == ["G"]


def test_rgb_input_grey_target_channels():
    cfg, data = config(), pairs(c_x=3, c_b=1, side=32)
    nets = Pix2Pix().build(cfg, data)
    assert nets["D"].features[0].in_channels == 4
    with torch.no_grad():
        assert nets["G"](data.x).shape == (4, 1, 32, 32)


# --- errors -----------------------------------------------------------------------------------
def test_bad_options_and_data_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="options.objective"):
        config("l2")
    with pytest.raises(ConfigError, match="lambda_l1"):
        config(**{"options.lambda_l1": -1.0})
    unpaired = Dataset(
        x=torch.zeros(4, 1, 28, 28), y=None, kind="image", name="u",
        unpaired={"b": torch.zeros(5, 1, 28, 28)}, aliases={"a": "x"},
    )  # fmt: skip
    with pytest.raises(ConfigError, match="cyclegan"):
        Pix2Pix().build(config(), unpaired)
    with pytest.raises(ConfigError, match="same size"):
        Pix2Pix().build(config(), pairs(side=7, b_side=28))
    with pytest.raises(ConfigError, match="objective=l1 trains none"):
        Pix2Pix().phases(config("l1", **{"tricks.instance_noise": 0.1}), {"G": Half()})
    nets = Pix2Pix().build(config(**{"tricks.r1_weight": 1.0}), pairs())
    with pytest.raises(ConfigError, match="BatchNorm"):  # R1 needs a batch-free D ...
        Pix2Pix().phases(config(**{"tricks.r1_weight": 1.0}), nets)
    cfg = config(**{"tricks.r1_weight": 1.0, "model.d_norm": "layer"})  # ... which this gives
    nets = Pix2Pix().build(cfg, pairs())
    assert any(isinstance(m, nn.GroupNorm) for m in nets["D"].modules())
    terms = Pix2Pix().phases(cfg, nets)[0].loss(ctx_for(nets, pairs().x, pairs().fields["b"]))
    assert set(terms) == {"d_adv", "d_r1"}


# --- export, presets, preview -------------------------------------------------------------
def test_apply_export_is_fully_convolutional():
    e = Pix2Pix().exports(config(), pairs())["apply"]
    assert e.kind == "map" and e.module == "G"
    assert e.input == {"kind": "image", "shape": [1, 28, 28], "min_size": 16}
    assert e.output == {"kind": "image", "shape": [1, 28, 28]}
    e = Pix2Pix().exports(config(), pairs(c_x=3, c_b=3, side=64))["apply"]
    assert e.input["min_size"] == 32 and e.output["shape"] == [3, 64, 64]


def test_presets():
    want = {"pix2pix-edges": "fashion-edges", "pix2pix-derain": "derain"}
    want["pix2pix-folder"] = "paired-folder"
    for name, data in want.items():
        o = PRESETS[name].overrides
        assert o["train.variant"] == "pix2pix" and o["data.name"] == data
        assert o["train.lr_g"] == o["train.lr_d"] == 2e-4 and o["train.beta1"] == 0.5
    assert "data.root" in PRESETS["pix2pix-folder"].description
    assert PRESETS["pix2pix-folder"].overrides["data.channels"] == 3
    cfg = preset_config("pix2pix-edges")
    assert cfg.options.objective == "l1+cgan" and cfg.options.lambda_l1 == 100.0


def test_preview_inputs_come_from_the_test_split():
    cfg = preset_config("pix2pix-edges")
    p = SimpleNamespace(cfg=cfg, data=pairs())
    x, b = Pix2Pix().fixed_pairs(p)
    test = load_dataset("fashion-edges", split="test")
    assert torch.equal(x, test.x[:8]) and torch.equal(b, test.fields["b"][:8])


# --- training the ablations: no D for l1, resume exact ------------------------------------
@pytest.mark.parametrize("objective", ["l1", "l1+gan"])
def test_ablation_resume_equals_uninterrupted(objective, tmp_path):
    over = {"options.objective": objective}
    api.train(tiny_config("pix2pix", **over), tmp_path / "full", steps=STEPS)
    cfg = tiny_config("pix2pix", **over)
    Trainer(cfg, RunDir.create(tmp_path / "half", cfg)).train(STEPS // 2)
    api.resume(tmp_path / "half")
    full, step_f = _checkpoint_tensors(tmp_path / "full")
    half, step_h = _checkpoint_tensors(tmp_path / "half")
    assert step_f == step_h == STEPS
    _assert_bitwise(full, half, f"pix2pix {objective}: resumed vs straight")
    has_d = any(k.startswith("D.") for k in full)
    assert has_d == (objective != "l1")  # Table 1's L1 row has no discriminator at all
    stats = RunDir(tmp_path / "full").read_stats()[-1]
    assert "loss/g_l1" in stats and ("loss/d_adv" in stats) == has_d
    if objective == "l1":  # apply on a size other than the training one (min_size 16)
        copy = tmp_path / "copy"
        shutil.copytree(tmp_path / "full", copy)
        src = tmp_path / "in.npy"
        np.save(src, np.random.default_rng(0).integers(0, 256, (3, 1, 20, 36), dtype=np.uint8))
        summary = apply(copy, src, tmp_path / "out.npy")
        assert summary["written"] == 3
        assert np.load(tmp_path / "out.npy").shape == (3, 1, 20, 36)
