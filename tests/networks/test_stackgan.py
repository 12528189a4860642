"""StackGAN's networks (Zhang et al. 2017): conditioning augmentation (its KL term against a
hand computation, the reparameterisation), the shapes of both stages and of the text D, and
the sampler composite that runs both stages."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.errors import ConfigError
from gankit.networks import COMPOSITES, build_network
from gankit.networks.stackgan import ConditioningAugmentation, kl_to_standard_normal

E = 12  # caption embedding length of these tests


def test_kl_matches_a_hand_computation():
    mu = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    # 1/2 sum_j (mu^2 + sigma^2 - log sigma^2 - 1), per row, then the batch mean
    row0 = 0.5 * ((0.25 + 1 - 0 - 1) + (1 + 4 - math.log(4) - 1))
    row1 = 0.5 * ((0 + 0.25 - math.log(0.25) - 1) + (4 + 1 - 0 - 1))
    assert kl_to_standard_normal(mu, logvar).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    # zero exactly at the standard normal, and the closed form of torch.distributions
    assert kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(2, 2), torch.ones(2, 2))
    ref = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert kl_to_standard_normal(mu, logvar).item() == pytest.approx(ref.item(), rel=1e-6)


def test_reparameterisation_c_is_mu_plus_sigma_eps():
    torch.manual_seed(0)
    ca = ConditioningAugmentation(E, 4)
    text = torch.randn(3, E)
    eps = torch.randn(3, 4)
    c, mu, logvar = ca(text, eps)
    assert c.shape == mu.shape == logvar.shape == (3, 4)
    assert torch.allclose(c, mu + torch.exp(0.5 * logvar) * eps)
    assert torch.equal(ca(text, torch.zeros(3, 4))[0], mu)  # eps = 0: the mean
    # many draws for one caption: mean mu, standard deviation sigma
    many = text[:1].expand(20000, -1)
    draws = ca(many, torch.randn(20000, 4, generator=torch.Generator().manual_seed(1)))[0]
    assert torch.allclose(draws.mean(0), mu[0], atol=0.05)
    assert torch.allclose(draws.std(0), torch.exp(0.5 * logvar[0]), rtol=0.05)
    # gradients reach mu and sigma's layer through the sample (the point of the trick)
    c.sum().backward()
    assert ca.fc.weight.grad is not None and ca.fc.weight.grad.abs().sum() > 0


def test_without_augmentation_c_is_deterministic():
    ca = ConditioningAugmentation(E, 4, augment=False)
    text = torch.randn(5, E)
    a, mu, logvar = ca(text, torch.randn(5, 4))
    b = ca(text, torch.randn(5, 4))[0]
    assert torch.equal(a, b) and torch.equal(a, mu) and torch.equal(a, ca.fc(text * ca.scale))
    assert not logvar.any()


@pytest.mark.parametrize(("side", "m_d"), [(28, 3), (16, 4), (32, 4)])
def test_stage_shapes(side, m_d):
    C, n = 1 if side != 32 else 3, 4
    g1 = build_network("stackgan_g1", noise_dim=8, text_dim=E, image_size=side // 2,
                       channels=C, c_dim=4, width=8)  # fmt: skip
    g2 = build_network("stackgan_g2", text_dim=E, image_size=side, channels=C, c_dim=4, width=8)
    d1 = build_network("stackgan_d", text_dim=E, image_size=side // 2, channels=C, width=8)
    d2 = build_network("stackgan_d", text_dim=E, image_size=side, channels=C, width=8)
    text = torch.randn(n, E)
    s0, mu, logvar = g1(torch.randn(n, 8), text, torch.randn(n, 4))
    assert s0.shape == (n, C, side // 2, side // 2) and mu.shape == logvar.shape == (n, 4)
    assert s0.abs().max() <= 1
    img = g2(s0, text, torch.randn(n, 4))[0]
    assert img.shape == (n, C, side, side) and img.abs().max() <= 1
    assert d1(s0, text).shape == d2(img, text).shape == (n,)
    assert d2.side == m_d  # M_d: where the replicated text meets the image features


def test_discriminator_sees_the_text():
    torch.manual_seed(0)
    d = build_network("stackgan_d", text_dim=E, image_size=14, channels=1, width=8).eval()
    x = torch.rand(4, 1, 14, 14) * 2 - 1
    a, b = d(x, torch.randn(4, E)), d(x, torch.randn(4, E))
    assert not torch.allclose(a, b)


def test_sampler_runs_both_stages_from_one_noise_vector():
    torch.manual_seed(0)
    g1 = build_network("stackgan_g1", noise_dim=8, text_dim=E, image_size=14, channels=1,
                       c_dim=4, width=8).eval()  # fmt: skip
    g2 = build_network("stackgan_g2", text_dim=E, image_size=28, channels=1, c_dim=4,
                       width=8).eval()  # fmt: skip
    sampler = COMPOSITES.get("stackgan")(stage1=g1, stage2=g2)
    assert sampler.z_dim == 16
    z, text = torch.randn(3, 16), torch.randn(3, E)
    s0, image = sampler.stages(z, text)
    z1, eps0, eps1 = z[:, :8], z[:, 8:12], z[:, 12:]
    assert torch.equal(s0, g1(z1, text, eps0)[0])
    assert torch.equal(image, g2(s0, text, eps1)[0])
    assert torch.equal(sampler(z, text), image)
    # the CA noise is part of z: another eps_1 changes stage II only
    z2 = z.clone()
    z2[:, 12:] = torch.randn(3, 4)
    s0b, image_b = sampler.stages(z2, text)
    assert torch.equal(s0b, s0) and not torch.allclose(image_b, image)


def test_sides_that_do_not_halve_are_refused():
    with pytest.raises(ConfigError, match="divisible by 4"):
        build_network("stackgan_g2", text_dim=E, image_size=30, channels=1)
    with pytest.raises(ConfigError):
        build_network("stackgan_g1", noise_dim=8, text_dim=E, image_size=15, channels=1)
