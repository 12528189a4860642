"""Pix2Pix's networks: the U-Net generator and the PatchGAN discriminator (Isola et al. 2017)."""

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.networks.patchgan import patchgan_output_size, receptive_field
from gankit.networks.unet import unet_depth


def unet(size, c_in=1, c_out=1, **kw):
    return build_network(
        "unet", in_channels=c_in, out_channels=c_out, image_size=size, width=8, **kw
    )


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (3, 3), (1, 3), (3, 1)])
def test_unet_shapes(size, c_in, c_out):
    G = unet(size, c_in, c_out)
    y = G(torch.rand(3, c_in, size, size) * 2 - 1)
    assert y.shape == (3, c_out, size, size)
    assert y.abs().max() <= 1  # tanh output


def test_unet_depth_from_the_image_size():
    assert [unet_depth(s) for s in (28, 32, 64, 256)] == [5, 5, 6, 8]  # 256 -> 1x1 in 8 (paper)
    assert unet_depth(32, bottleneck=4) == 3
    G = build_network("unet", in_channels=3, out_channels=3, image_size=256, width=64)
    convs = [m for m in G.modules() if isinstance(m, nn.Conv2d)]
    # Sec. 6.1.1: encoder C64-C128-C256-C512-C512-C512-C512-C512
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 512, 512, 512, 512]
    ups = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    # decoder CD512-CD512-CD512-C512-C256-C128-C64, each input doubled by the skip concat
    assert [u.out_channels for u in ups] == [512, 512, 512, 512, 256, 128, 64, 3]
    assert [u.in_channels for u in ups] == [512, 1024, 1024, 1024, 1024, 512, 256, 128]
    drops = [m for m in G.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(d.p == 0.5 for d in drops)
    first = G.down[0]
    assert isinstance(first, nn.Conv2d)  # no BatchNorm on the first encoder layer


def test_unet_skips_carry_the_input_past_the_bottleneck():
    """With the innermost conv zeroed, the bottleneck is the same for every input: only the
    skip connections can make the output depend on the input."""
    torch.manual_seed(0)
    G = unet(32, dropout=0.0).eval()
    inner = G.down[-1][1]
    with torch.no_grad():
        inner.weight.zero_()
        x1, x2 = torch.rand(2, 1, 1, 32, 32) * 2 - 1
        b1 = G.down[-1](G.down[-2](G.down[-3](G.down[-4](G.down[0](x1)))))
        b2 = G.down[-1](G.down[-2](G.down[-3](G.down[-4](G.down[0](x2)))))
        assert torch.equal(b1, b2)  # the bottleneck forgot the input
        assert (G(x1) - G(x2)).abs().max() > 1e-3  # the skips did not
    x = (torch.rand(1, 1, 32, 32) * 2 - 1).requires_grad_(True)
    G(x)[0, 0, 5, 5].backward()
    assert x.grad.abs().sum() > 0


def test_unet_dropout_is_train_time_noise_only():
    G = unet(28)
    x = torch.rand(4, 1, 28, 28)
    G.train()
    assert not torch.equal(G(x), G(x))  # dropout draws differ
    G.eval()
    assert torch.equal(G(x), G(x))  # deterministic export
    G0 = unet(28, dropout=0.0)
    assert not any(isinstance(m, nn.Dropout) for m in G0.modules())


def test_unet_reflect_pads_28_to_32_and_crops_back():
    G = unet(28).eval()
    seen = {}
    G.down[0].register_forward_pre_hook(lambda m, args: seen.update(x=args[0]))
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        y = G(x)
    padded = seen["x"]
    assert padded.shape == (2, 1, 32, 32) and y.shape == (2, 1, 28, 28)
    assert torch.equal(padded[..., 2:30, 2:30], x)  # 2 pixels a side, image in the middle
    assert torch.equal(padded[..., 2:30, 1], x[..., :, 1])  # mirrored, edge pixel not repeated
    assert torch.equal(padded[..., 2:30, 0], x[..., :, 2])


def test_unet_takes_other_sizes_and_refuses_too_small():
    G = unet(28).eval()
    assert G.min_size == 16
    with torch.no_grad():
        assert G(torch.rand(1, 1, 36, 52)).shape == (1, 1, 36, 52)
        assert G(torch.rand(1, 1, 16, 17)).shape == (1, 1, 16, 17)
    with pytest.raises(ConfigError, match="at least 16x16"):
        G(torch.rand(1, 1, 15, 40))
    with pytest.raises(ConfigError, match="norm"):
        unet(28, norm="group")


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [2, 4, 6])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patchgan_shapes(size, channels, n_layers):
    D = build_network("patchgan", in_channels=channels, width=8, n_layers=n_layers)
    out = D(torch.randn(2, channels, size, size))
    side = patchgan_output_size(size, n_layers)
    assert out.shape == (2, 1, side, side) and side >= 1


def test_patchgan_structure_follows_the_paper():
    D = build_network("patchgan", in_channels=6, width=64, n_layers=3)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]  # C64-C128-C256-C512
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert isinstance(D.features[1], nn.LeakyReLU)  # no norm on the first layer
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3
    inst = build_network("patchgan", in_channels=3, n_layers=3, norm="instance")
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in inst.modules()) == 3
    plain = build_network("patchgan", in_channels=3, n_layers=3, norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in plain.modules())
    layer = build_network("patchgan", in_channels=3, n_layers=3, norm="layer")
    assert sum(isinstance(m, nn.GroupNorm) and m.num_groups == 1 for m in layer.modules()) == 3
    with pytest.raises(ConfigError, match="norm"):
        build_network("patchgan", in_channels=3, norm="group")
    with pytest.raises(ConfigError, match="lower n_layers"):
        build_network("patchgan", in_channels=1, n_layers=3)(torch.randn(1, 1, 20, 20))


def test_receptive_field_sizes():
    assert [receptive_field(n) for n in range(5)] == [7, 16, 34, 70, 142]  # 3 -> 70x70


@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_patchgan_receptive_field_by_gradient(n_layers, norm):
    """d(one output logit)/d(input) is non-zero exactly in a window of the documented size."""
    torch.manual_seed(0)
    D = build_network("patchgan", in_channels=2, width=4, n_layers=n_layers, norm=norm).eval()
    side = 180
    x = torch.randn(1, 2, side, side, requires_grad=True)
    out = D(x)
    c = out.shape[-1] // 2
    out[0, 0, c, c].backward()
    hit = x.grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = hit.any(1).nonzero().flatten(), hit.any(0).nonzero().flatten()
    n = receptive_field(n_layers)
    assert rows.max() - rows.min() + 1 == n and cols.max() - cols.min() + 1 == n
    assert hit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
