"""Gaussian / Laplacian pyramids (gankit.nn.pyramid; Denton et al. 2015, Sec. 3)."""

import pytest
import torch

from gankit.errors import ConfigError
from gankit.nn.pyramid import (
    downsample,
    gaussian_pyramid,
    laplacian_pyramid,
    pyramid_sizes,
    reconstruct,
    upsample,
)


@pytest.mark.parametrize(
    "side, levels, want",
    [
        (28, 0, [28, 14, 7]),
        (32, 0, [32, 16, 8]),
        (64, 0, [64, 32, 16, 8]),
        (16, 0, [16, 8]),
        (14, 0, [14, 7]),
        (28, 2, [28, 14]),
        (32, 4, [32, 16, 8, 4]),
    ],
)
def test_sizes(side, levels, want):
    assert pyramid_sizes(side, levels) == want


@pytest.mark.parametrize("side, levels", [(8, 0), (7, 0), (13, 0), (28, 4), (30, 3), (16, 1)])
def test_sizes_refused_with_one_line(side, levels):
    with pytest.raises(ConfigError) as err:
        pyramid_sizes(side, levels)
    assert "\n" not in str(err.value) and "data.image_size" in str(err.value)


def test_shapes():
    x = torch.rand(3, 2, 28, 28) * 2 - 1
    g = gaussian_pyramid(x, 3)
    assert [tuple(t.shape) for t in g] == [(3, 2, 28, 28), (3, 2, 14, 14), (3, 2, 7, 7)]
    lap = laplacian_pyramid(x, 3)
    assert [tuple(t.shape) for t in lap] == [(3, 2, 28, 28), (3, 2, 14, 14), (3, 2, 7, 7)]
    assert torch.equal(lap[-1], g[-1])  # the top of the Laplacian pyramid is the low-pass I_K
    assert tuple(upsample(g[2]).shape) == (3, 2, 14, 14)


def test_operators_are_d_and_u():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # d: the mean of each 2x2 block
    assert torch.equal(downsample(x), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    # u: bilinear with half-pixel centres; the first row of u([[0, 1]]) is 0, .25, .75, 1
    row = upsample(torch.tensor([[[[0.0, 1.0]]]]))[0, 0, 0]
    assert torch.allclose(row, torch.tensor([0.0, 0.25, 0.75, 1.0]))


@pytest.mark.parametrize("side, levels", [(28, 3), (32, 3), (64, 4), (16, 2)])
def test_reconstruction_is_exact(side, levels):
    gen = torch.Generator().manual_seed(side)
    x = torch.rand(4, 3, side, side, generator=gen, dtype=torch.float64) * 2 - 1
    back = reconstruct(laplacian_pyramid(x, levels))
    assert torch.allclose(back, x, rtol=0, atol=1e-13)  # float64 rounding only
    x32 = x.float()
    assert torch.allclose(reconstruct(laplacian_pyramid(x32, levels)), x32, rtol=0, atol=1e-6)
    # and the residuals are not trivially zero: a real band-pass split
    assert all(h.abs().max() > 1e-3 for h in laplacian_pyramid(x, levels)[:-1])


def test_each_level_reconstructs_from_the_coarser_one():
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    g, lap = gaussian_pyramid(x, 3), laplacian_pyramid(x, 3)
    for k in range(2):  # I_k = u(I_{k+1}) + h_k (Eq. 2)
        assert torch.allclose(upsample(g[k + 1]) + lap[k], g[k], rtol=0, atol=1e-14)


def test_linearity():
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(2, 1, 32, 32, generator=gen, dtype=torch.float64) for _ in range(2))
    mixed = laplacian_pyramid(2.5 * a - 0.5 * b, 3)
    for m, pa, pb in zip(mixed, laplacian_pyramid(a, 3), laplacian_pyramid(b, 3)):
        assert torch.allclose(m, 2.5 * pa - 0.5 * pb, atol=1e-12)


def test_constant_images_have_no_band_pass_detail_and_stay_in_range():
    x = torch.full((1, 1, 28, 28), -0.7)
    lap = laplacian_pyramid(x, 3)
    assert all(torch.allclose(h, torch.zeros_like(h), atol=1e-6) for h in lap[:-1])
    assert torch.allclose(lap[-1], torch.full((1, 1, 7, 7), -0.7))
    y = torch.rand(5, 1, 28, 28) * 2 - 1
    for level in gaussian_pyramid(y, 3):  # d keeps images in [-1, 1]
        assert level.min() >= -1 and level.max() <= 1
