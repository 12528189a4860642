"""Composites: one exported model made of several of a run's networks.

An export may name a registered composite and the networks it is built from (its ``parts``,
role -> network key), e.g. a pyramid of generators sampled coarse to fine, or a translation
round trip. The composite is rebuilt from the parts at load time, so it needs no weights of
its own and no training code.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from gankit.registry import Registry

COMPOSITES: Registry[Callable[..., nn.Module]] = Registry("composite")


class Chain(nn.Module):
    """Its parts applied one after another, in the order of their roles ("0", "1", ...):
    G_BA(G_AB(a)) is the chain of G_AB then G_BA."""

    def __init__(self, **parts: nn.Module):
        super().__init__()
        order = sorted(parts, key=lambda role: (len(role), role))
        self.steps = nn.ModuleList([parts[role] for role in order])

    def forward(self, x: Tensor) -> Tensor:
        for step in self.steps:
            x = step(x)
        return x


COMPOSITES.register("chain")(Chain)


class EncodeDecode(nn.Module):
    """The reconstruction x -> G(E(x)) of a model that learns both maps (BiGAN, ALI, VAE,
    VAE-GAN, adversarial autoencoders). A stochastic encoder contributes its mean (its
    ``mean`` method), so that a reconstruction is deterministic."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: Tensor) -> Tensor:
        mean = getattr(self.encoder, "mean", None)
        z = mean(x) if callable(mean) else self.encoder(x)
        return self.decoder(z)


COMPOSITES.register("encode_decode")(EncodeDecode)
