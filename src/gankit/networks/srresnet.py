"""SRResNet generator and SRGAN discriminator (Ledig et al. 2017, "Photo-Realistic Single Image
Super-Resolution Using a Generative Adversarial Network", Fig. 4).

``srresnet``: conv 9x9 + PReLU; B residual blocks (conv 3x3, BN, PReLU, conv 3x3, BN, plus the
block's input); conv 3x3 + BN plus the output of the first layer (the long skip); log2(scale)
upsampling blocks (conv 3x3 to 4x the channels, PixelShuffle x2, PReLU: the sub-pixel
convolution of Shi et al. 2016); conv 9x9 to the image channels, no output nonlinearity (as
Fig. 4). Every layer is a convolution, so the network upscales an input of any size:
(N, C, h, w) -> (N, C, scale h, scale w).

``srgan_d``: conv 3x3 + LeakyReLU(0.2); then conv-BN-LeakyReLU blocks with strides alternating
2, 1, 2, 1, ..., 2 (``depth`` stride-2 blocks) and channels doubling at each stride-1 block
(k3n64s2, k3n128s1, k3n128s2, ..., k3n512s2 at width 64, depth 4, as Fig. 4); then dense 1024,
LeakyReLU(0.2), dense 1 (one logit per image; the sigmoid lives in the loss). Fig. 4 flattens
the 6 x 6 map of a 96 x 96 crop; here an adaptive average pool to ``pool`` x ``pool`` comes
first, so that the dense layers do not depend on the image size.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.nn.spectral import apply_spectral_norm


def upsampling_blocks(scale: int) -> int:
    """log2(scale): the number of x2 PixelShuffle blocks; scale must be a power of 2 >= 2."""
    n = int(round(math.log2(scale))) if scale >= 2 else 0
    if n < 1 or 2**n != scale:
        raise ConfigError(
            f"SRResNet upscales by powers of 2 (x2 PixelShuffle blocks); got scale {scale}. "
            "Use a dataset whose info['scale'] is 2, 4 or 8."
        )
    return n


class ResidualBlock(nn.Module):
    """conv-BN-PReLU-conv-BN plus the input (Ledig et al. Fig. 4, after He et al. 2016)."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@NETWORKS.register("srresnet")
class SRResNet(nn.Module):
    def __init__(
        self,
        channels: int = 1,  # image channels in and out
        scale: int = 4,  # upscaling factor, a power of 2
        width: int = 64,  # feature maps of every hidden conv (64 in Fig. 4)
        blocks: int = 16,  # B residual blocks (16 in Ledig et al.)
    ):
        super().__init__()
        if channels < 1 or width < 1 or blocks < 0:
            raise ConfigError(f"srresnet: channels, width >= 1 and blocks >= 0; got "
                              f"{channels}, {width}, {blocks}.")  # fmt: skip
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))
        self.trunk_end = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        up: list[nn.Module] = []
        for _ in range(upsampling_blocks(scale)):
            # (N, 4w, h, w) -> PixelShuffle(2) -> (N, w, 2h, 2w)
            up += [nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(width, channels, 9, padding=4)

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        h = h + self.trunk_end(self.blocks(h))  # the long skip over all residual blocks
        return self.tail(self.upsample(h))


@NETWORKS.register("srgan_d")
class SRGANDiscriminator(nn.Module):
    def __init__(
        self,
        channels: int = 1,
        width: int = 64,  # channels of the first conv; doubled at each stride-2 pair
        depth: int = 4,  # stride-1 / stride-2 pairs after the first conv (4 in Fig. 4)
        dense: int | None = None,  # width of the hidden dense layer; None: 16 * width (1024)
        pool: int = 4,  # adaptive average pool to pool x pool before the dense layers
        spectral_norm: bool = False,  # Miyato et al. 2018, on every conv / linear weight
        norm: str = "batch",  # hidden convs: batch (Fig. 4) or none
    ):
        super().__init__()
        if norm not in ("batch", "none"):
            raise ConfigError(
                f"model.d_norm={norm!r}; the SRGAN discriminator takes batch or none."
            )
        if channels < 1 or width < 1 or depth < 1 or pool < 1:
            raise ConfigError("srgan_d: channels, width, depth and pool must be >= 1.")

        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            bn = [nn.BatchNorm2d(c_out)] if norm == "batch" else []
            return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not bn), *bn, nn.LeakyReLU(0.2)]

        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2)]
        ch = width
        for i in range(depth):
            wider = width * 2**i  # 64, 128, 256, 512: the stride-1 conv doubles the channels
            layers += block(ch, wider, 1) if i else []  # Fig. 4 starts with k3n64s2
            layers += block(wider, wider, 2)  # halves H and W
            ch = wider
        self.features = nn.Sequential(*layers)  # (N, ch, ~H / 2^depth, ~W / 2^depth)
        dense = 16 * width if dense is None else dense
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),  # (N, ch * pool * pool)
            nn.Linear(ch * pool * pool, dense),
            nn.LeakyReLU(0.2),
            nn.Linear(dense, 1),
        )
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).flatten()  # (N,) logits

    def block_features(self, x: Tensor) -> list[Tensor]:
        """The output of every conv block (after its LeakyReLU), first to last: from nearly
        pixel-level maps (N, width, H, W) to the trunk's (N, ch, H / 2^depth, W / 2^depth)."""
        out, h = [], x
        for layer in self.features:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                out.append(h)
        return out
