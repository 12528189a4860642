"""Transformer layers for images: the pieces of TransGAN (Jiang, Chang & Wang 2021, "TransGAN:
Two Pure Transformers Can Make One Strong GAN, and That Can Scale Up").

An image is a sequence of tokens, one per grid position, in row-major order: token i*W + j
is position (i, j) of an H x W grid, so a (B, H*W, C) tensor is a (B, C, H, W) feature map.

* :class:`TransformerBlock`: the pre-norm encoder block of ViT (Dosovitskiy et al. 2021,
  Eq. 2-3) that TransGAN stacks in G and D (Sec. 3.1):
  x <- x + MSA(LN(x)); x <- x + MLP(LN(x)), MLP = Linear-GELU-Linear with ratio 4.
* :class:`MultiHeadSelfAttention`: softmax(Q K^T / sqrt(d)) V per head (Vaswani et al. 2017,
  Eq. 1), over all tokens or, with ``grid`` > 1, within each of grid x grid non-overlapping
  windows of the token map: TransGAN's grid self-attention (Sec. 3.3), which makes the
  high-resolution stages affordable. Written out rather than through
  F.scaled_dot_product_attention so that the double backward of a gradient penalty works on
  every device and the result is bitwise deterministic.
* :class:`PositionEmbedding`: learned absolute position embedding added to the tokens (ViT;
  TransGAN adds one at every stage of G). Without it, attention is equivariant to permuting
  tokens and the network cannot tell where a token is.
* :func:`pixel_shuffle_tokens`: TransGAN's upsampling (Sec. 3.1, Fig. 2): reshape the tokens
  to a (C, H, W) map, pixel-shuffle it (Shi et al. 2016) to (C/4, 2H, 2W), flatten again:
  4x the tokens, 1/4 of the channels.
* :class:`PatchEmbedding`: ViT's linear projection of non-overlapping p x p patches (a
  stride-p convolution), the discriminator's input layer (TransGAN Sec. 3.2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gankit.errors import ConfigError


def tokens_to_map(x: Tensor, h: int, w: int) -> Tensor:
    """(B, H*W, C) row-major tokens -> (B, C, H, W)."""
    b, n, c = x.shape
    if n != h * w:
        raise ValueError(f"{n} tokens are not a {h}x{w} grid")
    return x.transpose(1, 2).reshape(b, c, h, w)


def map_to_tokens(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, H*W, C) row-major tokens."""
    return x.flatten(2).transpose(1, 2)


def pixel_shuffle_tokens(x: Tensor, h: int, w: int) -> Tensor:
    """(B, H*W, C) on an H x W grid -> (B, 4*H*W, C/4) on a 2H x 2W grid (TransGAN Sec. 3.1):
    output channel c at (2i + a, 2j + b) is input channel 4c + 2a + b at (i, j)."""
    if x.shape[-1] % 4:
        raise ValueError(f"token pixel shuffle needs channels divisible by 4: {x.shape[-1]}")
    return map_to_tokens(F.pixel_shuffle(tokens_to_map(x, h, w), 2))


def heads_for(dim: int, heads: int, min_head_dim: int = 8) -> int:
    """The most heads, at most ``heads``, that split ``dim`` into equal heads of at least
    ``min_head_dim`` channels (1 where dim is smaller): the channels fall by 4 at every
    upsampling, so the late stages of G cannot keep the first stage's head count."""
    for h in range(max(1, min(heads, dim // min_head_dim)), 0, -1):
        if dim % h == 0:
            return h
    return 1


def _windows(x: Tensor, h: int, w: int, grid: int) -> Tensor:
    """(B, H*W, C) -> (B * grid^2, H/grid * W/grid, C): the tokens of each window together."""
    b, _, c = x.shape
    wh, ww = h // grid, w // grid
    x = x.reshape(b, grid, wh, grid, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * grid * grid, wh * ww, c)


def _unwindows(x: Tensor, h: int, w: int, grid: int) -> Tensor:
    """Inverse of :func:`_windows`."""
    c = x.shape[-1]
    wh, ww = h // grid, w // grid
    x = x.reshape(-1, grid, grid, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h * w, c)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, grid: int = 1):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"attention: {heads} heads do not divide {dim} channels.")
        self.heads, self.grid = heads, grid  # grid > 1: grid x grid windows (grid attention)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, hw: tuple[int, int] | None = None) -> Tensor:
        if self.grid > 1:
            if hw is None or hw[0] % self.grid or hw[1] % self.grid:
                raise ValueError(f"grid attention needs a grid side divisible by {self.grid}")
            x = _windows(x, *hw, self.grid)
        b, n, c = x.shape
        d = c // self.heads
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)  # (B, h, N, N)
        out = self.proj((att @ v).transpose(1, 2).reshape(b, n, c))
        return _unwindows(out, *hw, self.grid) if self.grid > 1 else out


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, grid: int = 1):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, grid)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )

    def forward(self, x: Tensor, hw: tuple[int, int] | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), hw)
        return x + self.mlp(self.norm2(x))


class PositionEmbedding(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.trunc_normal_(self.weight, std=0.02)  # ViT's initialisation

    def forward(self, x: Tensor) -> Tensor:
        return x + self.weight


class PatchEmbedding(nn.Module):
    def __init__(self, image_size: int, channels: int, patch: int, dim: int):
        super().__init__()
        if patch < 1 or image_size % patch:
            raise ConfigError(
                f"patch size {patch} does not divide the image side {image_size}; pick a "
                f"divisor (options.d_patch; e.g. 4 or 7 for 28 px, 4 or 8 for 32 px)."
            )
        self.tokens = (image_size // patch) ** 2
        self.proj = nn.Conv2d(channels, dim, patch, stride=patch)  # one linear map per patch

    def forward(self, x: Tensor) -> Tensor:
        return map_to_tokens(self.proj(x))  # (B, C, S, S) -> (B, (S/p)^2, dim)


def vit_init(module: nn.Module) -> None:
    """ViT / TransGAN initialisation: truncated N(0, 0.02) weights, zero biases, LayerNorm at
    identity."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
