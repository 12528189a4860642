"""Reusable layers and initialisation helpers."""

from gankit.nn.init import dcgan_init
from gankit.nn.minibatch_disc import MinibatchDiscrimination
from gankit.nn.pack import pack, unpack_repeat
from gankit.nn.spectral import apply_spectral_norm
from gankit.nn.vbn import VirtualBatchNorm

__all__ = [
    "MinibatchDiscrimination",
    "VirtualBatchNorm",
    "apply_spectral_norm",
    "dcgan_init",
    "pack",
    "unpack_repeat",
]
