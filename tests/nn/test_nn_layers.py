"""Trick layers against hand computations: minibatch discrimination, virtual batch norm,
spectral norm, PacGAN packing; and the network options that use them."""

import math

import pytest
import torch
from torch import nn

from gankit.networks import build_network
from gankit.nn.minibatch_disc import MinibatchDiscrimination
from gankit.nn.pack import pack, unpack_repeat
from gankit.nn.spectral import apply_spectral_norm
from gankit.nn.vbn import VirtualBatchNorm


def test_minibatch_discrimination_by_hand():
    layer = MinibatchDiscrimination(in_features=1, kernels=1, kernel_dims=2)
    with torch.no_grad():
        layer.T.copy_(torch.tensor([[1.0, 2.0]]))  # M_i = (f_i, 2 f_i)
    f = torch.tensor([[0.0], [1.0], [3.0]])
    # ||M_i - M_j||_1 = 3 |f_i - f_j|; o_i = sum_j exp(-3 |f_i - f_j|), j = i included
    e = math.exp
    expected = [1 + e(-3) + e(-9), e(-3) + 1 + e(-6), e(-9) + e(-6) + 1]
    out = layer(f)
    assert out.shape == (3, 2)
    assert torch.equal(out[:, 0], f[:, 0])
    assert out[:, 1].tolist() == pytest.approx(expected, rel=1e-6)


def test_minibatch_discrimination_sees_a_collapsed_batch():
    layer = MinibatchDiscrimination(4, kernels=3, kernel_dims=2)
    same = torch.ones(5, 4)
    assert torch.allclose(layer(same)[:, 4:], torch.full((5, 3), 5.0))  # every pair is close


def test_virtual_batch_norm_by_hand():
    vbn = VirtualBatchNorm(1, ref_size=2)
    ref = torch.tensor([[1.0], [3.0]])  # mean 2, E[x^2] = 5, var 1
    x = torch.tensor([[5.0]])
    out = vbn(torch.cat([ref, x]))
    # reference rows: own statistics
    assert out[:2, 0].tolist() == pytest.approx([-1.0, 1.0], abs=1e-4)
    # x joins with weight 1/3: mean = (2*2 + 5)/3 = 3, E[x^2] = (2*5 + 25)/3, var = 35/3 - 9
    var = 35 / 3 - 9
    assert out[2, 0].item() == pytest.approx((5 - 3) / math.sqrt(var + 1e-5), rel=1e-5)


def test_virtual_batch_norm_makes_outputs_independent_of_the_batch():
    torch.manual_seed(0)
    G = build_network("mlp_g", z_dim=2, out_shape=[2], hidden=8, layers=2, vbn=4)
    G.vbn_ref_z.copy_(torch.randn(4, 2))
    z = torch.randn(6, 2)
    alone = torch.cat([G(z[i : i + 1]) for i in range(6)])
    assert torch.allclose(G(z), alone, atol=1e-6)  # BatchNorm would fail this


def test_virtual_batch_norm_images_use_per_example_spatial_statistics():
    vbn = VirtualBatchNorm(2, ref_size=3)
    x = torch.randn(5, 2, 4, 4)
    out = vbn(x)
    ref = x[:3]
    mean = ref.mean(dim=(0, 2, 3), keepdim=True)
    var = ref.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    assert torch.allclose(out[:3], (ref - mean) / torch.sqrt(var + 1e-5), atol=1e-5)


def test_spectral_norm_bounds_every_weight():
    torch.manual_seed(0)
    net = apply_spectral_norm(nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 4)))
    for _ in range(30):  # power iterations run in training-mode forward passes
        net(torch.randn(2, 8))
    for layer in net:
        assert torch.linalg.matrix_norm(layer.weight, ord=2).item() == pytest.approx(1.0, abs=1e-3)


def test_pack_groups_consecutive_samples():
    x = torch.arange(12.0).view(6, 2)
    assert pack(x, 3).tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    img = torch.arange(4 * 2 * 3 * 3.0).view(4, 2, 3, 3)
    packed = pack(img, 2)
    assert packed.shape == (2, 4, 3, 3) and torch.equal(packed[1, 2:], img[3])
    assert unpack_repeat(torch.tensor([[1.0], [2.0]]), 2).flatten().tolist() == [1, 1, 2, 2]
    with pytest.raises(ValueError):
        pack(torch.zeros(5, 2), 2)


@pytest.mark.parametrize(
    "name, kwargs, x",
    [
        ("mlp_d", {"in_shape": [2], "hidden": 8, "layers": 2}, torch.randn(8, 2)),
        ("dcgan_d", {"image_size": 8, "channels": 1, "width": 4}, torch.randn(8, 1, 8, 8)),
    ],
)
def test_discriminator_options(name, kwargs, x):
    plain = build_network(name, **kwargs)
    assert plain(x).shape == (8,)
    packed = build_network(
        name, **kwargs, pack=4, minibatch_disc=True, mbd_kernels=3, spectral_norm=True
    )
    assert packed(x).shape == (2,)  # one decision per pack of 4
    assert any(isinstance(m, MinibatchDiscrimination) for m in packed.modules())
    assert any("parametrizations" in k for k in packed.state_dict())
    # the plain network keeps its parameter names (old checkpoints still load)
    assert not any("parametrizations" in k for k in plain.state_dict())


def test_dcgan_generator_vbn_replaces_batch_norm():
    G = build_network("dcgan_g", z_dim=4, image_size=8, channels=1, width=4, vbn=3)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert G(torch.randn(2, 4)).shape == (2, 1, 8, 8)
