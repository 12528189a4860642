"""VAE (Kingma & Welling 2014) and VAE-GAN (Larsen et al. 2016): what the contract suite
(test_contract.py, presets vae-fashion and vaegan-fashion) does not check. Above all, that
each network of the VAE-GAN receives exactly the gradient of its own loss of Algorithm 1."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.presets import PRESETS, preset_config
from gankit.variants import VARIANTS, StepContext
from gankit.variants.vae import gaussian_kl
from gankit.variants.vaegan import VAEGAN

Z_DIM = 4
TINY = {
    "data.name": "digits",
    "data.image_size": 16,
    "model.z_dim": Z_DIM,
    "model.g_channels": 8,
    "model.d_channels": 8,
}


def _setup(variant: str, **over):
    preset = {"vae": "vae-fashion", "vaegan": "vaegan-fashion"}[variant]
    cfg = preset_config(preset, {**TINY, **over})
    data = load_dataset("digits", image_size=16)
    v = VARIANTS.get(variant)()
    torch.manual_seed(0)
    nets = v.build(cfg, data)
    return cfg, v, nets, v.phases(cfg, nets), data.x[:8]


def _ctx(nets, x, seed: int) -> StepContext:
    """A step context whose eps and z_p both come from one generator seeded ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return StepContext(
        nets, x, None, len(x), 0, lambda n: torch.randn(n, Z_DIM, generator=gen), rng=gen
    )


def _phase_grads(phase, nets, x, seed):
    """The gradient of a phase's summed terms w.r.t. the parameters of its modules, with the
    other networks frozen as the loop freezes them; and the terms."""
    for name, net in nets.items():
        net.requires_grad_(name in phase.modules)
    terms = phase.loss(_ctx(nets, x, seed))
    params = [p for m in phase.modules for p in nets[m].parameters()]
    return torch.autograd.grad(sum(terms.values()), params), terms


def _paper_grads(loss, nets, modules):
    params = [p for m in modules for p in nets[m].parameters()]
    return torch.autograd.grad(loss, params)


def _assert_same(got, want, what):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-7, msg=what)
    assert any(w.abs().sum() > 0 for w in want), f"{what}: the gradient is zero"


def _draws(x, seed, E):
    """eps then z_p, drawn in the order the phases draw them; z = mu + sigma eps."""
    gen = torch.Generator().manual_seed(seed)
    mu, logvar = E(x)
    eps = torch.randn(mu.shape, generator=gen)
    z_p = torch.randn(len(x), Z_DIM, generator=gen)
    return mu, logvar, mu + torch.exp(0.5 * logvar) * eps, z_p


def _llike(D, x, recon):
    """Eq. 7 written out: 1/2 sum over features of (Dis_l(x) - Dis_l(x~))^2, batch mean."""
    f = D.features(torch.cat([x, recon])).flatten(1)
    fx, fr = f[: len(x)], f[len(x) :]
    return 0.5 * ((fx - fr) ** 2).sum(1).mean()


# --- VAE-GAN: every network gets exactly its loss of Algorithm 1 ------------------------------
GAMMA = 0.37  # not the default, so that a missing or misplaced gamma shows


def test_phases_one_per_network():
    _, _, nets, phases, _ = _setup("vaegan")
    assert [(p.name, p.modules) for p in phases] == [("D", ["D"]), ("G", ["G"]), ("E", ["E"])]
    assert set(nets) == {"G", "E", "D"}


def test_discriminator_gradient_is_that_of_minus_l_gan():
    _, _, nets, phases, x = _setup("vaegan", **{"options.gamma": GAMMA})
    got, terms = _phase_grads(phases[0], nets, x, seed=3)
    assert set(terms) == {"d_adv", "d_prior_adv"}
    G, E, D = nets["G"], nets["E"], nets["D"]
    with torch.no_grad():
        _, _, z, z_p = _draws(x, 3, E)
        recon, prior = G(z), G(z_p)
    # -L_GAN = -[log D(x) + log(1 - D(x~)) + log(1 - D(G(z_p)))], each a batch mean
    log_d = F.logsigmoid
    minus_l_gan = -(log_d(D(x)).mean() + log_d(-D(recon)).mean() + log_d(-D(prior)).mean())
    _assert_same(got, _paper_grads(minus_l_gan, nets, ["D"]), "D's gradient")


def test_decoder_gradient_is_gamma_llike_minus_l_gan_nonsaturating():
    _, _, nets, phases, x = _setup("vaegan", **{"options.gamma": GAMMA})
    got, terms = _phase_grads(phases[1], nets, x, seed=5)
    assert set(terms) == {"g_llike", "g_adv_recon", "g_adv_prior"}
    G, E, D = nets["G"], nets["E"], nets["D"]
    with torch.no_grad():
        _, _, z, z_p = _draws(x, 5, E)
    recon, prior = G(z), G(z_p)
    # non-saturating form of G's part of -L_GAN: -log D(x~) - log D(G(z_p))
    gan = -(F.logsigmoid(D(recon)).mean() + F.logsigmoid(D(prior)).mean())
    want = _paper_grads(GAMMA * _llike(D, x, recon) + gan, nets, ["G"])
    _assert_same(got, want, "G's gradient")


def test_encoder_gradient_is_prior_plus_llike_without_gan():
    _, _, nets, phases, x = _setup("vaegan", **{"options.gamma": GAMMA})
    got, terms = _phase_grads(phases[2], nets, x, seed=7)
    assert set(terms) == {"e_prior", "e_llike"}
    G, E, D = nets["G"], nets["E"], nets["D"]
    mu, logvar, z, _ = _draws(x, 7, E)
    kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
    want = _paper_grads(kl + _llike(D, x, G(z)), nets, ["E"])  # no gamma, no GAN term
    _assert_same(got, want, "E's gradient")


def test_no_phase_leaks_gradient_into_frozen_networks():
    _, _, nets, phases, x = _setup("vaegan")
    for phase in phases:
        for net in nets.values():
            for p in net.parameters():
                p.grad = None
        for name, net in nets.items():
            net.requires_grad_(name in phase.modules)
        sum(phase.loss(_ctx(nets, x, 0)).values()).backward()
        for name, net in nets.items():
            has = [p.grad is not None for p in net.parameters()]
            assert all(has) if name in phase.modules else not any(has), (phase.name, name)


def test_gamma_scales_only_the_decoder_reconstruction_term():
    _, _, nets, phases, x = _setup("vaegan", **{"options.gamma": 2.0})
    _, terms2 = _phase_grads(phases[1], nets, x, seed=1)
    _, _, nets, phases, x = _setup("vaegan", **{"options.gamma": 1.0})
    _, terms1 = _phase_grads(phases[1], nets, x, seed=1)
    _, e_terms = _phase_grads(phases[2], nets, x, seed=1)
    torch.testing.assert_close(terms2["g_llike"], 2 * terms1["g_llike"])
    torch.testing.assert_close(terms2["g_adv_recon"], terms1["g_adv_recon"])
    assert e_terms["e_llike"] > 0


# --- VAE ----------------------------------------------------------------------------------------
def test_vae_loss_is_kl_plus_weighted_squared_error():
    _, _, nets, phases, x = _setup("vae", **{"options.recon_weight": 3.0})
    (phase,) = phases
    assert phase.modules == ["E", "G"]
    _, terms = _phase_grads(phase, nets, x, seed=2)
    mu, logvar, z, _ = _draws(x, 2, nets["E"])
    recon = nets["G"](z)
    torch.testing.assert_close(terms["recon"], 3.0 * ((recon - x) ** 2).sum((1, 2, 3)).mean())
    torch.testing.assert_close(terms["kl"], gaussian_kl(mu, logvar))


def test_kl_matches_the_closed_form():
    mu = torch.tensor([[1.0, 0.0], [0.5, -2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    # KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1 - log s^2) / 2, summed over dims, batch mean
    rows = [
        (1 + 1 - 1 - 0) / 2 + (4 + 0 - 1 - math.log(4)) / 2,
        (0.25 + 0.25 - 1 - math.log(0.25)) / 2 + (1 + 4 - 1 - 0) / 2,
    ]
    assert gaussian_kl(mu, logvar).item() == pytest.approx(sum(rows) / 2, rel=1e-6)
    normal = torch.distributions.Normal
    ref = torch.distributions.kl_divergence(normal(mu, (0.5 * logvar).exp()), normal(0.0, 1.0))
    torch.testing.assert_close(gaussian_kl(mu, logvar), ref.sum(1).mean())
    assert gaussian_kl(torch.zeros(3, 5), torch.zeros(3, 5)).item() == 0.0


# --- exports ----------------------------------------------------------------------------------
def test_exports_of_both():
    data = load_dataset("digits", image_size=16)
    for variant, preset in (("vae", "vae-fashion"), ("vaegan", "vaegan-fashion")):
        cfg = preset_config(preset, TINY)
        ex = VARIANTS.get(variant)().exports(cfg, data)
        assert ex["apply"].module == "E" and ex["apply"].call == "mean"
        assert ex["apply"].output == {"kind": "codes", "shape": [Z_DIM]}
        assert ex["reconstruct"].composite == "encode_decode"
        assert ex["reconstruct"].parts == {"encoder": "E", "decoder": "G"}
        feats = ex["encoder_features"]
        assert (feats.module, feats.call, feats.output["kind"]) == ("E", "probe_features", "vector")
        # 16x16: conv blocks of 8 and 16 channels, 16 pooled values each, then mu (4)
        assert feats.output["shape"] == [(8 + 16) * 16 + Z_DIM]
        assert ("features" in ex) == (variant == "vaegan")
    assert (
        PRESETS["vae-fashion"].overrides["model.g_channels"]
        == (PRESETS["vaegan-fashion"].overrides["model.g_channels"])
    )


# --- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "preset, key, value",
    [
        ("vaegan-fashion", "options.gamma", -0.1),
        ("vaegan-fashion", "options.gamma", float("nan")),
        ("vae-fashion", "options.recon_weight", 0.0),
        ("vae-fashion", "options.recon_weight", -1.0),
    ],
)
def test_bad_options_are_config_errors(preset, key, value):
    with pytest.raises(ConfigError) as err:
        preset_config(preset, {key: value})
    assert key in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("variant", ["vae", "vaegan"])
def test_vector_data_is_refused_clearly(variant):
    preset = {"vae": "vae-fashion", "vaegan": "vaegan-fashion"}[variant]
    cfg = preset_config(preset, {"data.name": "ring", "model.z_dim": 2})
    with pytest.raises(ConfigError, match=f"{variant} needs image data"):
        VARIANTS.get(variant)().build(cfg, load_dataset("ring", n_samples=64))


def test_vaegan_refuses_tricks_it_cannot_apply():
    data = load_dataset("digits", image_size=16)
    with pytest.raises(ConfigError, match="tricks.pack"):
        VAEGAN().build(preset_config("vaegan-fashion", {**TINY, "tricks.pack": 2}), data)
    cfg = preset_config("vaegan-fashion", {**TINY, "tricks.feature_matching": True})
    v = VAEGAN()
    with pytest.raises(ConfigError, match="feature matching"):
        v.phases(cfg, v.build(cfg, data))
