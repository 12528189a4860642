"""SRResNet and the SRGAN discriminator (Ledig et al. 2017, Fig. 4): shapes at any input size,
the PixelShuffle upsampling, the layer pattern of the figure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.networks import build_network


@pytest.mark.parametrize(
    ("channels", "h", "w"), [(1, 7, 7), (1, 5, 9), (3, 11, 6), (3, 1, 1), (1, 24, 24)]
)
def test_srresnet_upscales_any_size_by_4(channels, h, w):
    G = build_network("srresnet", channels=channels, scale=4, width=8, blocks=2).eval()
    with torch.no_grad():
        y = G(torch.rand(2, channels, h, w) * 2 - 1)
    assert y.shape == (2, channels, 4 * h, 4 * w)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize(("scale", "shuffles"), [(2, 1), (4, 2), (8, 3)])
def test_log2_scale_pixelshuffle_blocks(scale, shuffles):
    G = build_network("srresnet", channels=1, scale=scale, width=8, blocks=1)
    ps = [m for m in G.modules() if isinstance(m, nn.PixelShuffle)]
    assert len(ps) == shuffles and all(m.upscale_factor == 2 for m in ps)
    # each x2 block: conv to 4x the channels, shuffle back to the width (sub-pixel conv)
    convs = [m for m in G.upsample if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32] * shuffles
    assert G(torch.zeros(1, 1, 3, 5)).shape == (1, 1, 3 * scale, 5 * scale)


@pytest.mark.parametrize("scale", [1, 3, 6])
def test_scale_not_a_power_of_two_is_refused(scale):
    with pytest.raises(ConfigError, match="powers of 2"):
        build_network("srresnet", channels=1, scale=scale)


def test_pixel_shuffle_places_subpixels():
    """The x2 block's conv output channel 4c + 2i + j lands at sub-pixel (i, j) of channel c:
    an identity-like conv makes G's upsampling a pure rearrangement we can check by hand."""
    G = build_network("srresnet", channels=1, scale=2, width=1, blocks=0)
    conv, shuffle = G.upsample[0], G.upsample[1]
    x = torch.arange(4.0).view(1, 4, 1, 1)  # 4 channels at one pixel
    assert torch.equal(shuffle(x), torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]]))
    assert conv.in_channels == 1 and conv.out_channels == 4


def test_residual_blocks_and_long_skip_follow_fig4():
    G = build_network("srresnet", channels=3, scale=4, width=16, blocks=3)
    assert len(G.blocks) == 3
    body = G.blocks[0].body
    kinds = [type(m) for m in body]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.PReLU, nn.Conv2d, nn.BatchNorm2d]
    assert G.head[0].kernel_size == (9, 9) and G.tail.kernel_size == (9, 9)
    # the residual block adds its input: with the body's last BN scaled to zero it is identity
    with torch.no_grad():
        body[4].weight.zero_()
        body[4].bias.zero_()
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(G.blocks[0](x), x)


def test_srgan_d_pattern_and_any_hr_size():
    D = build_network("srgan_d", channels=3, width=64, depth=4)
    convs = [m for m in D.features if isinstance(m, nn.Conv2d)]
    # Fig. 4: k3n64s1, then k3n64s2, k3n128s1, k3n128s2, ..., k3n512s2
    assert [(c.out_channels, c.stride[0]) for c in convs] == [
        (64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2),
    ]  # fmt: skip
    assert all(c.kernel_size == (3, 3) for c in convs)
    bns = [m for m in D.features if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 7  # every conv but the first
    linears = [m for m in D.head if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [1024, 1]
    lrelu = [m for m in D.modules() if isinstance(m, nn.LeakyReLU)]
    assert lrelu and all(m.negative_slope == 0.2 for m in lrelu)
    small = build_network("srgan_d", channels=1, width=8, depth=4, pool=2)
    for side in (28, 33, 96):
        assert small(torch.randn(3, 1, side, side)).shape == (3,)


def test_srgan_d_refuses_layer_norm():
    with pytest.raises(ConfigError, match="d_norm"):
        build_network("srgan_d", channels=1, norm="layer")
