"""Reusable layers and initialisation helpers."""

from gankit.nn.init import dcgan_init

__all__ = ["dcgan_init"]
