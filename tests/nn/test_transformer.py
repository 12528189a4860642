"""Transformer layers for images (gankit.nn.transformer, TransGAN Sec. 3): token pixel shuffle
on a hand-made grid, shapes, grid attention as per-window attention, position embeddings."""

import pytest
import torch

from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.nn.transformer import (
    MultiHeadSelfAttention,
    PatchEmbedding,
    PositionEmbedding,
    TransformerBlock,
    heads_for,
    map_to_tokens,
    pixel_shuffle_tokens,
    tokens_to_map,
)


def test_pixel_shuffle_of_tokens_on_a_hand_made_grid():
    # a 2x3 grid (row-major tokens), 8 channels: value = 100 * token + channel
    h, w, c = 2, 3, 8
    x = torch.tensor([[[100.0 * t + ch for ch in range(c)] for t in range(h * w)]])
    y = pixel_shuffle_tokens(x, h, w)
    assert y.shape == (1, 4 * h * w, c // 4)
    for i in range(h):
        for j in range(w):
            for a in range(2):
                for b in range(2):
                    token = (2 * i + a) * (2 * w) + (2 * j + b)  # row-major on the 4x6 grid
                    for ch in range(c // 4):
                        want = 100 * (i * w + j) + 4 * ch + 2 * a + b
                        assert y[0, token, ch] == want, (i, j, a, b, ch)
    # the top-left 2x2 block of the output holds token (0, 0)'s channels 0..3, in order
    assert y[0, [0, 1, 6, 7], 0].tolist() == [0, 1, 2, 3]


def test_tokens_and_maps_are_row_major_inverses():
    m = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    t = map_to_tokens(m)
    assert t.shape == (2, 20, 3)
    assert torch.equal(t[1, 2 * 5 + 3], m[1, :, 2, 3])  # token i*W + j is position (i, j)
    assert torch.equal(tokens_to_map(t, 4, 5), m)
    with pytest.raises(ValueError):
        tokens_to_map(t, 5, 5)


@pytest.mark.parametrize("grid", [1, 2])
def test_attention_blocks_preserve_shapes(grid):
    block = TransformerBlock(16, 4, grid=grid)
    x = torch.randn(3, 36, 16)
    y = block(x, (6, 6))
    assert y.shape == x.shape and torch.isfinite(y).all() and not torch.allclose(y, x)


def test_grid_attention_attends_within_each_window_only():
    torch.manual_seed(0)
    full = MultiHeadSelfAttention(8, 2, grid=1)
    grid = MultiHeadSelfAttention(8, 2, grid=2)
    grid.load_state_dict(full.state_dict())
    h = w = 4
    x = torch.randn(2, h * w, 8)
    y = grid(x, (h, w))
    m = tokens_to_map(x, h, w)
    for wi in range(2):
        for wj in range(2):
            win = m[:, :, 2 * wi : 2 * wi + 2, 2 * wj : 2 * wj + 2]  # one 2x2 window
            want = full(map_to_tokens(win))  # plain attention over its 4 tokens alone
            got = map_to_tokens(tokens_to_map(y, h, w)[:, :, 2 * wi : 2 * wi + 2,
                                                       2 * wj : 2 * wj + 2])  # fmt: skip
            assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(y, full(x), atol=1e-4)  # global attention mixes windows


def test_attention_without_positions_is_permutation_equivariant():
    torch.manual_seed(0)
    block = TransformerBlock(8, 2)
    x, perm = torch.randn(2, 10, 8), torch.randperm(10)
    assert torch.allclose(block(x)[:, perm], block(x[:, perm]), atol=1e-6)


def _patches_swapped(x: torch.Tensor, p: int) -> torch.Tensor:
    """``x`` with its top-left and bottom-right p x p patches exchanged."""
    y = x.clone()
    y[..., :p, :p], y[..., -p:, -p:] = x[..., -p:, -p:], x[..., :p, :p]
    return y


def test_position_embedding_makes_the_discriminator_order_aware():
    torch.manual_seed(0)
    D = build_network("transgan_d", image_size=16, channels=1, patch=4, dim=16, depth=2, heads=2)
    x = torch.randn(3, 1, 16, 16)
    swapped = _patches_swapped(x, 4)
    with torch.no_grad():
        assert not torch.allclose(D(x), D(swapped), atol=1e-5)  # where a patch is matters
        D.pos.weight.zero_()  # no position information: a bag of patches
        assert torch.allclose(D(x), D(swapped), atol=1e-5)


def test_position_embedding_adds_one_vector_per_token():
    pe = PositionEmbedding(5, 4)
    x = torch.zeros(2, 5, 4)
    assert torch.equal(pe(x)[0], pe.weight[0]) and torch.equal(pe(x)[1], pe.weight[0])
    assert pe.weight.std() > 0  # learned, initialised N(0, 0.02)


def test_patch_embedding_tokens_and_errors():
    pe = PatchEmbedding(28, 1, 4, 32)
    assert pe.tokens == 49 and pe(torch.randn(2, 1, 28, 28)).shape == (2, 49, 32)
    # token t sees only patch t: changing one pixel of patch (1, 2) changes token 1*7 + 2 alone
    x = torch.zeros(1, 1, 28, 28)
    y = x.clone()
    y[0, 0, 5, 9] = 1.0
    changed = (pe(x) - pe(y)).abs().sum(-1)[0].nonzero().flatten().tolist()
    assert changed == [1 * 7 + 2]
    with pytest.raises(ConfigError, match="does not divide the image side 28"):
        PatchEmbedding(28, 1, 5, 32)


def test_heads_follow_the_channels():
    assert heads_for(128, 4) == 4
    assert heads_for(32, 4) == 4
    assert heads_for(16, 4) == 2  # heads of at least 8 channels
    assert heads_for(8, 4) == 1 and heads_for(2, 4) == 1
    assert heads_for(24, 4) == 3
    with pytest.raises(ConfigError):
        MultiHeadSelfAttention(10, 4)
