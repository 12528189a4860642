"""Weight initialisation helpers."""

from __future__ import annotations

from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2015, Sec. 4: all weights from N(0, 0.02); BatchNorm scale from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
