"""The ResNet image-to-image generator of Johnson, Alahi & Fei-Fei 2016 ("Perceptual Losses
for Real-Time Style Transfer and Super-Resolution", supplementary Sec. 2) as CycleGAN uses it
(Zhu et al. 2017, Appendix 7.2):

    c7s1-k, d2k, d4k, R4k x n_blocks, u2k, uk, c7s1-C (tanh)

with k = ``width`` (64 in the paper) and n_blocks 6 (128x128 images) or 9 (256x256 and up).
c7s1-k: 7x7 convolution, stride 1, k filters, InstanceNorm, ReLU; dk: 3x3 convolution,
stride 2; Rk: two 3x3 convolutions with reflection padding, InstanceNorm after each and ReLU
after the first, added to the block's input; uk: 3x3 fractional-strided convolution, stride
1/2. Zhu et al. use reflection padding to reduce artifacts (Appendix 7.2) and instance norm
(Ulyanov et al. 2016) instead of batch norm (Sec. 4); weights from N(0, 0.02) (Appendix 7.1).

Fully convolutional: any H, W that are multiples of 4 (two halvings) and at least
:data:`MIN_SIZE` (reflection padding of 3 needs more than 3 pixels, instance norm more than
one value per channel at H / 4).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.nn.init import dcgan_init

MULTIPLE_OF = 4  # two stride-2 downsamplings
MIN_SIZE = 8  # 2 x 2 at the residual blocks


def _norm(channels: int) -> nn.Module:
    # affine-free, no running statistics: the same normalisation in train and eval mode
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


def _conv_block(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
    """c7s1-k (kernel 7, reflection-padded) or dk (kernel 3, stride 2, zero-padded)."""
    pad = kernel // 2
    if stride == 1:  # reflection padding keeps image borders free of zero-padding artifacts
        return [
            nn.ReflectionPad2d(pad),
            nn.Conv2d(c_in, c_out, kernel, 1, 0),
            _norm(c_out),
            nn.ReLU(True),
        ]
    return [nn.Conv2d(c_in, c_out, kernel, stride, pad), _norm(c_out), nn.ReLU(True)]


class ResidualBlock(nn.Module):
    """Rk: x + IN(conv(ReLU(IN(conv(x))))), both 3x3 with reflection padding."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@NETWORKS.register("resnet_g")
class ResNetGenerator(nn.Module):
    def __init__(
        self,
        in_channels: int,  # channels of domain A's images
        out_channels: int | None = None,  # of domain B's; None: the same as in_channels
        width: int = 64,  # k of c7s1-k; d2k / d4k double it twice
        n_blocks: int = 9,  # residual blocks at H / 4: 6 for 128x128, 9 for 256x256 (Zhu 7.2)
    ):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        if min(in_channels, out_channels, width) < 1 or n_blocks < 0:
            raise ConfigError(
                f"resnet_g needs channels and width >= 1 and n_blocks >= 0, got in_channels="
                f"{in_channels}, out_channels={out_channels}, width={width}, n_blocks={n_blocks}."
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        k = width
        layers: list[nn.Module] = [
            *_conv_block(in_channels, k, 7, 1),  # c7s1-k
            *_conv_block(k, 2 * k, 3, 2),  # d2k: (N, 2k, H/2, W/2)
            *_conv_block(2 * k, 4 * k, 3, 2),  # d4k: (N, 4k, H/4, W/4)
            *(ResidualBlock(4 * k) for _ in range(n_blocks)),
        ]
        for c in (4 * k, 2 * k):  # u2k, uk: stride 1/2, each doubles H and W back
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, 2, padding=1, output_padding=1),
                _norm(c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(k, out_channels, 7), nn.Tanh()]  # c7s1-C
        self.net = nn.Sequential(*layers)
        dcgan_init(self)  # N(0, 0.02) weights, zero biases (Zhu et al., Appendix 7.1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W) in [-1, 1]."""
        return self.net(x)
