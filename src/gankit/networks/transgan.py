"""TransGAN's generator and discriminator: Jiang, Chang & Wang 2021, "TransGAN: Two Pure
Transformers Can Make One Strong GAN, and That Can Scale Up" (layers in gankit.nn.transformer).

Generator (Sec. 3.1, Fig. 2), no convolutions: z -> linear -> tokens of an s0 x s0 grid with
``dim`` channels (s0 = image side / 2^(stages - 1): 7 for 28 px and 3 stages, 8 for 32 px);
each stage adds its learned position embedding and runs its transformer blocks; between
stages pixel-shuffle upsampling makes 4x the tokens with 1/4 of the channels; after the last
stage (the image side) a linear map per token gives the pixel's channels ("linear
unflatten"), then tanh; no LayerNorm before it, which would force the few values left per
pixel at full resolution (8 for 28 px) to zero mean and unit variance. ``grid`` > 1 makes
the last stage's attention run within grid x grid windows (grid self-attention, Sec. 3.3),
the cost of which is what grows with the side.

Discriminator (Sec. 3.2): ViT (Dosovitskiy et al. 2021): non-overlapping p x p patches
linearly embedded, a learned [CLS] token prepended, learned position embedding, transformer
blocks, LayerNorm, a linear head on the [CLS] token -> one logit per image. Only LayerNorm,
which is per sample, so a gradient penalty (WGAN-GP) is allowed.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.nn.transformer import (
    PatchEmbedding,
    PositionEmbedding,
    TransformerBlock,
    heads_for,
    pixel_shuffle_tokens,
    tokens_to_map,
    vit_init,
)


def g_stage_sides(image_size: int, stages: int) -> list[int]:
    """Token grid side of each generator stage, doubling up to ``image_size``."""
    up = 2 ** (stages - 1)
    if stages < 1 or image_size % up or image_size // up < 2:
        raise ConfigError(
            f"TransGAN's generator cannot reach {image_size} px in {stages} stages (each "
            f"doubles the side): the side must be a multiple of {up}; change options.g_depths "
            "(one depth per stage) or data.image_size."
        )
    return [image_size // up * 2**i for i in range(stages)]


@NETWORKS.register("transgan_g")
class TransGANGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        image_size: int,
        channels: int,
        dim: int = 128,  # channels of the first stage's tokens; / 4 at every upsampling
        depths: tuple[int, ...] | list[int] = (2, 2, 1),  # transformer blocks per stage
        heads: int = 4,  # attention heads of the first stage (fewer where channels are few)
        mlp_ratio: int = 4,
        grid: int = 1,  # last stage: attention within grid x grid windows; 1: global
    ):
        super().__init__()
        depths = list(depths)
        self.sides = g_stage_sides(image_size, len(depths))
        if dim % 4 ** (len(depths) - 1):
            raise ConfigError(
                f"options.g_dim={dim}: each of the {len(depths) - 1} upsamplings divides the "
                f"channels by 4, so g_dim must be a multiple of {4 ** (len(depths) - 1)}."
            )
        if grid < 1 or self.sides[-1] % grid:
            raise ConfigError(
                f"options.g_grid={grid} does not divide the last stage's side {self.sides[-1]}."
            )
        self.z_dim, self.dim = z_dim, dim
        self.out_shape = (channels, image_size, image_size)
        self.project = nn.Linear(z_dim, self.sides[0] ** 2 * dim)  # z -> s0^2 tokens
        self.pos, self.stages, d = nn.ModuleList(), nn.ModuleList(), dim
        for i, (side, depth) in enumerate(zip(self.sides, depths)):
            g = grid if i == len(depths) - 1 else 1
            h = heads_for(d, heads)
            self.pos.append(PositionEmbedding(side * side, d))
            self.stages.append(
                nn.ModuleList(TransformerBlock(d, h, mlp_ratio, g) for _ in range(depth))
            )
            d = d // 4 if i < len(depths) - 1 else d
        self.to_pixels = nn.Linear(d, channels)  # "linear unflatten": one pixel per token
        vit_init(self)

    def forward(self, z: Tensor) -> Tensor:
        x = self.project(z).view(len(z), self.sides[0] ** 2, self.dim)  # (B, s0^2, dim)
        for i, (side, pos, blocks) in enumerate(zip(self.sides, self.pos, self.stages)):
            x = pos(x)
            for block in blocks:
                x = block(x, (side, side))
            if i < len(self.sides) - 1:
                x = pixel_shuffle_tokens(x, side, side)  # (B, 4 N, C / 4)
        x = self.to_pixels(x)  # (B, S*S, channels)
        return torch.tanh(tokens_to_map(x, self.sides[-1], self.sides[-1]))


@NETWORKS.register("transgan_d")
class TransGANDiscriminator(nn.Module):
    def __init__(
        self,
        image_size: int,
        channels: int,
        patch: int = 4,  # side of the square patches that become tokens
        dim: int = 64,  # token channels
        depth: int = 3,  # transformer blocks
        heads: int = 4,
        mlp_ratio: int = 4,
    ):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"options.d_heads={heads} does not divide options.d_dim={dim}.")
        self.embed = PatchEmbedding(image_size, channels, patch, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))  # the [CLS] token
        self.pos = PositionEmbedding(self.embed.tokens + 1, dim)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 1)
        vit_init(self)
        nn.init.trunc_normal_(self.cls, std=0.02)

    def features(self, x: Tensor) -> Tensor:
        """The normalised [CLS] token after the blocks, (B, dim): what the head reads."""
        t = self.embed(x)  # (B, N, dim)
        t = self.pos(torch.cat([self.cls.expand(len(t), -1, -1), t], dim=1))  # (B, N + 1, dim)
        for block in self.blocks:
            t = block(t)
        return self.norm(t[:, 0])

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).flatten()  # (B,)
