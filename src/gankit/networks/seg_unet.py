"""The segmenter S of adversarial segmentation (Luc et al. 2016; Kohl et al. 2017): Pix2Pix's
U-Net (gankit.networks.unet) with one output channel per class and no tanh, so that its
output is class logits (N, K, H, W), turned into per-pixel class probabilities by a softmax
over K (K = 2 for a binary mask: background and lesion).

``labels(x)`` is the hard prediction, argmax over the classes, as float (N, 1, H, W): what
``gankit apply`` writes as a mask (the ``apply`` export calls it).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.networks.base import NETWORKS
from gankit.networks.unet import UNet


@NETWORKS.register("seg_unet")
class SegUNet(nn.Module):
    def __init__(
        self,
        in_channels: int,  # channels of the image
        classes: int,  # K >= 2 mask classes, background included
        image_size: int,  # training side; sets the U-Net's depth (any size at inference)
        width: int = 16,  # channels of the first conv
        norm: str = "batch",  # batch, instance or none
        dropout: float = 0.0,  # the U-Net's decoder dropout (off: S is a plain segmenter)
    ):
        super().__init__()
        self.classes = classes
        self.unet = UNet(in_channels, classes, image_size, width=width, dropout=dropout, norm=norm)
        self.unet.out[-1] = nn.Identity()  # logits, not tanh (no parameters change)
        self.min_size = self.unet.min_size

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (N, K, H, W)."""
        return self.unet(x)

    def labels(self, x: Tensor) -> Tensor:
        """The predicted class of every pixel, float (N, 1, H, W) of 0..K-1."""
        return self.unet(x).argmax(dim=1, keepdim=True).float()
