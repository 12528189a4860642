"""Conditional batch normalisation: de Vries et al. 2017 ("Modulating early visual processing
by language") and Dumoulin et al. 2017, as SAGAN's class-conditional generator uses it
(Zhang et al. 2018, Sec. 5, following Miyato & Koyama 2018).

The features are batch-normalised without an affine transform, then scaled and shifted by a
gain and a bias looked up for each sample's class:

    CBN(x, y) = gamma_y * (x - mu_B) / sqrt(var_B + eps) + beta_y,

gamma_y initialised to 1 and beta_y to 0, so that at the start it is plain BatchNorm. With
``num_classes=0`` it is ordinary BatchNorm (one learned gain and bias).
"""

from __future__ import annotations

from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.Module):
    def __init__(self, channels: int, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, channels)  # gamma_y
            self.bias = nn.Embedding(num_classes, channels)  # beta_y
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.bn(x)
        if not self.num_classes:
            return h
        if y is None:
            raise ValueError("this batch norm is class-conditional: pass labels y")
        return h * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]
