import pytest
import torch

from gankit.errors import ConfigError
from gankit.networks import build_network, network_spec


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    G = build_network("dcgan_g", z_dim=10, image_size=size, channels=channels, width=8)
    D = build_network("dcgan_d", image_size=size, channels=channels, width=8)
    x = G(torch.randn(4, 10))
    assert x.shape == (4, channels, size, size)
    assert x.abs().max() <= 1  # tanh output
    assert D(x).shape == (4,)


def test_dcgan_structure_follows_radford():
    G = build_network("dcgan_g", z_dim=100, image_size=64, channels=3, width=64)
    D = build_network("dcgan_d", image_size=64, channels=3, width=64)
    convT = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in convT] == [512, 256, 128, 64, 3]  # Radford et al. Fig. 1
    assert not any(isinstance(m, (torch.nn.Linear, torch.nn.MaxPool2d)) for m in D.modules())
    first = list(D.features)[:2]
    assert isinstance(first[1], torch.nn.LeakyReLU)  # no BatchNorm on D's input layer
    w = torch.cat([m.weight.flatten() for m in convT[:-1]])
    assert abs(w.std().item() - 0.02) < 0.002  # N(0, 0.02) init


def test_unsupported_size():
    with pytest.raises(ConfigError, match="data.image_size"):
        build_network("dcgan_g", z_dim=4, image_size=30, channels=1)


def test_mlp_shapes_and_spec():
    G = build_network("mlp_g", z_dim=2, out_shape=[2], hidden=8, layers=2)
    D = build_network("mlp_d", in_shape=[2], hidden=8, layers=2)
    assert G(torch.randn(5, 2)).shape == (5, 2) and D(torch.randn(5, 2)).shape == (5,)
    Gi = build_network("mlp_g", z_dim=3, out_shape=[1, 4, 4], tanh=True)
    assert Gi(torch.randn(2, 3)).shape == (2, 1, 4, 4)
    assert network_spec(G) == {
        "name": "mlp_g",
        "kwargs": {"z_dim": 2, "out_shape": [2], "hidden": 8, "layers": 2},
    }
