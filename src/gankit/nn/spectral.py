"""Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for GANs", Eq. 8):
W_SN = W / sigma(W), sigma estimated by one power iteration per forward pass (Algorithm 1).
torch's parametrization does exactly that; this helper applies it to every weight layer."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalise every Linear / Conv / ConvTranspose weight inside ``module``, and
    minibatch discrimination's tensor T (the linear map f -> f T of Salimans et al. 2016,
    Sec. 3.2), so that no weight of the discriminator is left unbounded."""
    from gankit.nn.minibatch_disc import MinibatchDiscrimination

    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            spectral_norm(m)  # picks the output dimension (1 for ConvTranspose) itself
        elif isinstance(m, MinibatchDiscrimination):
            spectral_norm(m, name="T")  # (A, B*C): its largest singular value is T's norm
    return module
