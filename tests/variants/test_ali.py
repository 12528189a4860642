"""ALI (Dumoulin et al. 2016): what sets it apart from BiGAN. The registry contract suite
(test_contract.py) covers the rest through preset ali-grid."""

from __future__ import annotations

import torch

import gankit
from gankit.data import load_dataset
from gankit.presets import PRESETS, preset_config
from gankit.runs import load_model, run_exports
from gankit.variants import VARIANTS, StepContext
from gankit.variants.bigan import BiGAN

Z_DIM = 2


def _setup(seed: int = 0):
    cfg = preset_config("ali-grid", {"model.hidden": 16, "model.layers": 2})
    data = load_dataset("grid", n_samples=64, seed=0)
    variant = VARIANTS.get("ali")()
    torch.manual_seed(seed)
    nets = variant.build(cfg, data)
    return variant, nets, data.x[:32]


def _ctx(nets, x, seed: int) -> StepContext:
    gen = torch.Generator().manual_seed(seed)
    return StepContext(nets, x, None, len(x), 0, lambda n: torch.randn(n, Z_DIM), rng=gen)


def test_ali_is_bigan_with_a_gaussian_encoder():
    variant, nets, x = _setup()
    assert isinstance(variant, BiGAN)
    assert PRESETS["ali-grid"].overrides["train.variant"] == "ali"
    mu, logvar = nets["E"](x)
    assert mu.shape == logvar.shape == (len(x), Z_DIM)


def test_sampling_is_reparameterised_gradients_reach_mu_and_logvar():
    variant, nets, x = _setup()
    E = nets["E"]
    mu, logvar = E(x)
    mu.retain_grad()
    logvar.retain_grad()
    E.forward = lambda inp: (mu, logvar)  # the same tensors, so their .grad can be read
    z = variant.encode(E, x, _ctx(nets, x, seed=1))
    z.pow(2).sum().backward()
    assert mu.grad is not None and mu.grad.abs().sum() > 0
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0
    # and on to the encoder's weights: both halves of its output layer (mu rows, logvar rows)
    head = [m for m in E.net if isinstance(m, torch.nn.Linear)][-1]
    assert head.weight.grad[:Z_DIM].abs().sum() > 0
    assert head.weight.grad[Z_DIM:].abs().sum() > 0


def test_z_is_mu_plus_sigma_eps_from_the_noise_stream():
    variant, nets, x = _setup()
    with torch.no_grad():
        mu, logvar = nets["E"](x)
        z = variant.encode(nets["E"], x, _ctx(nets, x, seed=7))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(z, mu + torch.exp(0.5 * logvar) * eps)


def test_same_seed_same_draws_other_seed_other_draws():
    variant, nets, x = _setup()
    with torch.no_grad():
        a = variant.encode(nets["E"], x, _ctx(nets, x, seed=3))
        b = variant.encode(nets["E"], x, _ctx(nets, x, seed=3))
        c = variant.encode(nets["E"], x, _ctx(nets, x, seed=4))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_without_a_step_context_the_code_is_the_mean():
    variant, nets, x = _setup()
    with torch.no_grad():
        assert torch.equal(variant.encode(nets["E"], x), nets["E"](x)[0])


def test_apply_writes_the_posterior_mean_deterministically(tmp_path):
    cfg = preset_config(
        "ali-grid",
        {
            "train.steps": 4,
            "train.batch_size": 16,
            "model.hidden": 16,
            "model.layers": 2,
            "data.n_samples": 256,
            "log.progress": False,
            "log.sample_every": 0,
            "log.toy_frames": False,
            "diagnose.enabled": False,
            "eval.metrics": "",
        },
    )
    gankit.train(cfg, tmp_path / "run", seed=0)
    export = run_exports(tmp_path / "run")["apply"]
    assert export.call == "mean" and export.output == {"kind": "codes", "shape": [Z_DIM]}
    model = load_model(tmp_path / "run")
    x = load_dataset("grid", split="test", n_samples=100, seed=0).x
    first, second = model(x), model(x)
    assert first.shape == (100, Z_DIM)
    assert torch.equal(first, second)
    with torch.no_grad():
        torch.testing.assert_close(first, model.net(x)[0])
