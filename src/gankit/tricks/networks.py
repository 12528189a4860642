"""Tricks that live inside the networks: packing, minibatch discrimination, spectral norm
(in a discriminator), virtual batch norm (in a generator). A variant passes these options to
the networks it builds and checks them with :func:`check_network_tricks`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.errors import ConfigError
from gankit.losses.compat import check_loss_tricks, gp_weight


def _spec_kwargs(net: nn.Module) -> dict[str, Any]:
    """A network's constructor options, those of a wrapped base network (cond_d's
    ``base_kwargs``) included."""
    kw = getattr(net, "spec", {}).get("kwargs", {})
    return {**kw.get("base_kwargs", {}), **kw}


def check_tricks(
    cfg: Config,
    discriminator: nn.Module,
    generator: nn.Module | None = None,
    names: tuple[str, str] = ("discriminator", "generator"),
) -> None:
    """Raise a ConfigError for a trick that cannot work with this loss or these networks
    (``names``: what the variant calls the two, for the message)."""
    k, variant = cfg.tricks, cfg.train.variant
    check_loss_tricks(k, cfg.train.loss)
    d_kw = _spec_kwargs(discriminator)
    g_kw = _spec_kwargs(generator) if generator is not None else {}
    d_name, g_name = names
    needs = {
        "pack": (k.pack > 1, d_kw.get("pack", 1) == k.pack, d_name),
        "minibatch_disc": (k.minibatch_disc, d_kw.get("minibatch_disc", False), d_name),
        "spectral_norm": (k.spectral_norm, d_kw.get("spectral_norm", False), d_name),
        "sn_gain": (k.sn_gain != 1.0, d_kw.get("sn_gain", 1.0) == k.sn_gain, d_name),
        "vbn": (k.vbn > 0, g_kw.get("vbn", 0) == k.vbn, g_name),
    }
    for key, (wanted, built, who) in needs.items():
        if wanted and not built:
            raise ConfigError(
                f"tricks.{key} is not supported by train.variant={variant}: its {who} network "
                "was built without it; drop the trick or use variant gan / dcgan."
            )
    _check_penalty_norm(cfg, discriminator, d_name)
    if k.feature_matching and not callable(getattr(discriminator, "features", None)):
        raise ConfigError(
            f"tricks.feature_matching needs a discriminator with features(); the one of "
            f"train.variant={variant} has none."
        )


def generator_options(cfg: Config) -> dict[str, Any]:
    """Constructor options of G for the tricks that live in the network (only those set, so a
    plain network keeps its plain spec)."""
    return {"vbn": cfg.tricks.vbn} if cfg.tricks.vbn else {}


def discriminator_options(cfg: Config) -> dict[str, Any]:
    """Constructor options of D for packing, minibatch discrimination, spectral norm."""
    k = cfg.tricks
    out: dict[str, Any] = {}
    if k.pack > 1:
        out["pack"] = k.pack
    if k.minibatch_disc:
        out.update(minibatch_disc=True, mbd_kernels=k.mbd_kernels, mbd_dims=k.mbd_dims)
    if k.spectral_norm:
        out["spectral_norm"] = True
    if k.sn_gain != 1.0:
        out["sn_gain"] = k.sn_gain
    if cfg.model.d_norm != "batch":  # only when changed, so a plain D keeps its plain spec
        out["norm"] = cfg.model.d_norm
    return out


@torch.no_grad()
def init_vbn_reference(
    G: nn.Module, sample_z: Callable[[int, torch.Generator], Tensor], seed: int
) -> None:
    """Draw VBN's reference batch once, at the start of training (Salimans et al. 2016, 3.4);
    it is a buffer of G, so it is saved with G and `load_generator` restores it."""
    ref = getattr(G, "vbn_ref_z", None)
    if ref is not None:
        ref.copy_(sample_z(ref.shape[0], torch.Generator().manual_seed(seed)))


def _check_penalty_norm(cfg: Config, discriminator: nn.Module, who: str) -> None:
    """A gradient penalty (Gulrajani et al. 2017) or R1 (Mescheder et al. 2018) penalises the
    gradient of D(x_i) with respect to its own input x_i. BatchNorm makes D(x_i) depend on the
    whole batch, so that gradient is not the per-sample one the penalty is defined on;
    Gulrajani et al. (Sec. 4) drop batch normalisation from the critic for this reason."""
    from gankit.losses import LOSSES

    k = cfg.tricks
    penalties = [
        name
        for name, on in (
            ("a gradient penalty", gp_weight(k, LOSSES.get(cfg.train.loss)) > 0),
            ("R1", k.r1_weight > 0),
        )
        if on
    ]
    # a network may name the modules its adversarial logit depends on (an AC / Q head is not)
    path = getattr(discriminator, "adversarial_modules", lambda: [discriminator])()
    batchnorm = any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) for part in path for m in part.modules()
    )
    if penalties and batchnorm:
        raise ConfigError(
            f"{' and '.join(penalties)} needs per-sample gradients, but the {who} network has "
            "BatchNorm, which couples the samples of a batch (Gulrajani et al. 2017, Sec. 4); "
            "add --set model.d_norm=layer (or none)."
        )
