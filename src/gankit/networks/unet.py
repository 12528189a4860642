"""U-Net generator of Pix2Pix (Isola et al. 2017, Sec. 3.2.1, Fig. 3 and 6.1.1).

An encoder-decoder with skip connections between mirrored layers: "skip connections between
each layer i and layer n - i ... concatenate all channels at layer i with those at layer n - i",
so low-level structure (edges, the layout of the input) bypasses the bottleneck.

* Encoder: C64-C128-C256-C512-C512-..., 4 x 4 convolutions with stride 2, LeakyReLU(0.2), no
  BatchNorm on the first layer (Sec. 6.1.1) nor on the innermost one (a 1 x 1 map of one image
  has no spatial statistics; the authors' code leaves it out too). Channels are
  ``width * min(2**i, 8)``; depth = log2(padded side / bottleneck), so the paper's 256 x 256
  goes down to 1 x 1 in 8 layers and a 32 x 32 image in 5.
* Decoder: ReLU, 4 x 4 transposed convolutions with stride 2, BatchNorm, and dropout 0.5 in the
  first ``dropout_blocks`` (3 in the paper: CD512-CD512-CD512) as the model's only noise
  (Sec. 3.1: "we provide noise only in the form of dropout"); each block's output is
  concatenated with the encoder's map of the same size. A last transposed conv to the output
  channels and tanh.
* Dropout is a train-time behaviour here: in eval mode (export, ``gankit apply``, previews) the
  net is deterministic and BatchNorm uses running statistics. The paper keeps dropout and
  batch statistics at test time (Sec. 3.1, 6.1.1); we choose the reproducible map.

Sizes: any H, W at inference. The input is padded by reflection (edge pixels mirrored, not
zeros, so that borders look like image content) up to the next multiple of 2**depth, and the
output cropped back: 28 x 28 Fashion-MNIST runs at 32 x 32 (2 pixels a side). Reflection needs
the pad on each side to be smaller than the image, which holds for sides >= 2**(depth - 1):
``min_size``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.nn.init import dcgan_init

NORMS = ("batch", "instance", "none")


def unet_depth(image_size: int, bottleneck: int = 1) -> int:
    """Stride-2 layers from ``image_size`` (padded up to a power of two) down to
    ``bottleneck`` x ``bottleneck``: 28 -> 32 -> 5, 64 -> 6, 256 -> 8."""
    if image_size < 4 or bottleneck < 1 or bottleneck & (bottleneck - 1):
        raise ConfigError(
            f"unet: image_size={image_size}, bottleneck={bottleneck}; need images of at least "
            "4x4 and a bottleneck that is a power of two (1, 2, 4)."
        )
    padded = 2 ** math.ceil(math.log2(image_size))
    depth = int(math.log2(padded // bottleneck))
    if depth < 2:
        raise ConfigError(f"unet: bottleneck {bottleneck} leaves fewer than 2 levels; lower it.")
    return depth


def _norm(norm: str, channels: int) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "instance":
        return [nn.InstanceNorm2d(channels)]
    return []


@NETWORKS.register("unet")
class UNet(nn.Module):
    def __init__(
        self,
        in_channels: int,  # channels of the input (condition) image
        out_channels: int,  # channels of the output image
        image_size: int,  # training side; sets the depth (the net itself takes any size)
        width: int = 64,  # channels of the first layer (C64 in the paper)
        bottleneck: int = 1,  # side of the innermost map at image_size (1 in the paper)
        dropout: float = 0.5,  # Sec. 6.1.1
        dropout_blocks: int = 3,  # decoder blocks with dropout, from the innermost
        norm: str = "batch",  # batch (the paper), instance or none
    ):
        super().__init__()
        if norm not in NORMS:
            raise ConfigError(f"unet norm={norm!r}; valid: {', '.join(NORMS)}.")
        if not 0 <= dropout < 1:
            raise ConfigError(f"unet dropout={dropout}; use 0 <= dropout < 1.")
        self.depth = d = unet_depth(image_size, bottleneck)
        ch = [width * min(2**i, 8) for i in range(d)]  # encoder output channels by level
        down: list[nn.Module] = [nn.Conv2d(in_channels, ch[0], 4, 2, 1)]
        for i in range(1, d):
            inner = i == d - 1
            down.append(
                nn.Sequential(
                    nn.LeakyReLU(0.2),
                    nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=inner or norm == "none"),
                    *([] if inner else _norm(norm, ch[i])),
                )
            )
        self.down = nn.ModuleList(down)
        up: list[nn.Module] = []
        for j, level in enumerate(range(d - 2, -1, -1)):  # level: the encoder map it meets
            c_in = ch[d - 1] if j == 0 else 2 * ch[level + 1]  # after the previous concat
            drop = [nn.Dropout(dropout)] if j < dropout_blocks and dropout > 0 else []
            up.append(
                nn.Sequential(
                    nn.ReLU(),
                    nn.ConvTranspose2d(c_in, ch[level], 4, 2, 1, bias=norm == "none"),
                    *_norm(norm, ch[level]),
                    *drop,
                )
            )
        self.up = nn.ModuleList(up)
        self.out = nn.Sequential(
            nn.ReLU(), nn.ConvTranspose2d(2 * ch[0], out_channels, 4, 2, 1), nn.Tanh()
        )
        self.multiple = 2**d
        self.min_size = 2 ** (d - 1)
        dcgan_init(self)  # N(0, 0.02), Sec. 6.2

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if min(h, w) < self.min_size:
            raise ConfigError(
                f"this U-Net takes images of at least {self.min_size}x{self.min_size} "
                f"pixels, got {h}x{w}."
            )
        ph, pw = -h % self.multiple, -w % self.multiple
        pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)  # left, right, top, bottom
        x = F.pad(x, pad, mode="reflect") if ph or pw else x
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = skips.pop()  # the bottleneck
        for layer in self.up:
            x = torch.cat([layer(x), skips.pop()], dim=1)  # U-Net skip (Fig. 3)
        x = self.out(x)
        return x[..., pad[2] : pad[2] + h, pad[0] : pad[0] + w]
