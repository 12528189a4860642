"""PatchGAN discriminator (Isola et al. 2017, Sec. 3.2.2 and 6.1.2; also CycleGAN's D).

D classifies each N x N patch of its input as real or fake and outputs one logit per patch,
(B, 1, h, w): "the discriminator is run convolutionally across the image" and the losses
average the patch decisions. The paper's 70 x 70 D is C64-C128-C256-C512 followed by a conv to
one channel: 4 x 4 convolutions, stride 2 in the first ``n_layers`` convs and stride 1 in the
last two, no normalisation on the first layer, LeakyReLU(0.2), N(0, 0.02) initialisation.

Receptive field (the patch size N) of one output logit, from ``n_layers`` (all kernels 4,
padding 1; each stride-2 conv doubles the reach of the layers above it):

    N = 9 * 2**n_layers - 2:   n_layers = 0 -> 7, 1 -> 16, 2 -> 34, 3 -> 70 (the paper's), 4 -> 142

(the paper's 1 x 1 "PixelGAN" of Fig. 6 is not built here.) On an S x S input the output is
about S / 2**n_layers - 2 on a side; it must stay >= 1, so 28 x 28 images take n_layers <= 3
(3 gives one 70-pixel patch that covers the whole image: an image GAN; 1 or 2 are patch GANs).

For pix2pix the input is the channel-wise concatenation of the condition and the (real or
translated) image, so ``in_channels`` = C_x + C_b; CycleGAN's D sees one image.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.nn.init import dcgan_init
from gankit.nn.spectral import apply_spectral_norm

NORMS = ("batch", "instance", "layer", "none")


def receptive_field(n_layers: int) -> int:
    """Side N of the input patch one PatchGAN logit sees (see the module docstring)."""
    return 9 * 2**n_layers - 2


def patchgan_output_size(image_size: int, n_layers: int) -> int:
    """Side of PatchGAN's logit map on an ``image_size`` input: each stride-2 conv maps
    s -> floor(s / 2), each of the two stride-1 convs s -> s - 1."""
    s = image_size
    for _ in range(n_layers):
        s //= 2
    return s - 2


def _norm(norm: str, channels: int) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "instance":  # per-image statistics, no affine: CycleGAN's choice (Zhu et al. 2017)
        return [nn.InstanceNorm2d(channels)]
    if norm == "layer":  # per image over (C, H, W): batch-independent, for gradient penalties
        return [nn.GroupNorm(1, channels)]
    return []


@NETWORKS.register("patchgan")
class PatchGAN(nn.Module):
    def __init__(
        self,
        in_channels: int,  # C_x + C_b for a conditional D on (input, output) pairs
        width: int = 64,  # channels of the first conv (C64 in the paper)
        n_layers: int = 3,  # stride-2 convs; sets the receptive field (3 -> 70 x 70)
        norm: str = "batch",  # batch (pix2pix), instance (CycleGAN), layer or none
        spectral_norm: bool = False,  # Miyato et al. 2018, on every conv weight
    ):
        super().__init__()
        if norm not in NORMS:
            raise ConfigError(f"patchgan norm={norm!r}; valid: {', '.join(NORMS)}.")
        if not 0 <= n_layers <= 6:
            raise ConfigError(f"patchgan n_layers={n_layers}; use 0..6 (3 = 70x70 patches).")
        self.n_layers = n_layers
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 4, 2 if n_layers else 1, 1),
            nn.LeakyReLU(0.2, True),
        ]
        ch = width
        # stride-2 convs after the first, then one stride-1 conv, widths capped at 8 * width (C512)
        for i in range(1, n_layers + 1):
            out = width * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(ch, out, 4, stride, 1, bias=norm == "none"),  # a norm has its own shift
                *_norm(norm, out),
                nn.LeakyReLU(0.2, True),
            ]
            ch = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, 4, 1, 1)  # one logit per patch
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if min(h, w) < 2**self.n_layers * 3:
            raise ConfigError(
                f"patchgan with n_layers={self.n_layers} needs images of at least "
                f"{2**self.n_layers * 3} pixels a side, got {h}x{w}; lower n_layers."
            )
        return self.head(self.features(x))  # (B, 1, h', w')
