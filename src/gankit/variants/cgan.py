"""Mirza & Osindero 2014, "Conditional Generative Adversarial Nets".

Both players see extra information y, here the class label (Eq. 2):

    min_G max_D V(D, G) = E_{x ~ p_data}[log D(x | y)] + E_{z ~ p_z}[log(1 - D(G(z | y)))].

G(z | y) takes [z, code(y)], code(y) being y one-hot (as in the paper) or a learned embedding
(``options.label_mode``). D(x | y) takes code(y) as extra input channels, or scores the pair with
the projection head of Miyato & Koyama 2018, Eq. (3): f(x, y) = y^T V phi(x) + psi(phi(x))
(``options.label_mode=projection``). Real pairs (x, y) come from the data; fake pairs draw
y ~ U{0..K-1} from the run's saved noise stream, so a resumed run continues exactly. The game
itself (loss family, k steps, tricks) is GAN's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.networks.conditional import LatentLayout
from gankit.variants.base import VARIANTS, StepContext
from gankit.variants.gan import GAN


@VARIANT_OPTIONS.register("cgan")
@dataclass
class CGANOptions:
    label_mode: str = "embed"  # how G and D see the class: embed, onehot or projection (D only)
    embed_dim: int = 16  # size of the learned label embedding (label_mode embed / projection)

    def validate(self) -> None:
        if self.label_mode not in ("embed", "onehot", "projection"):
            raise ConfigError(
                f"options.label_mode={self.label_mode!r}; valid: embed, onehot, projection."
            )
        if self.embed_dim < 1:
            raise ConfigError(f"options.embed_dim={self.embed_dim} must be at least 1.")


def require_labels(data: Any, variant: str) -> int:
    """K, the number of classes; a ConfigError when the data has no labels."""
    if data.y is None or not data.num_classes:
        hint = " (use one subfolder per class)" if data.name == "folder" else ""
        raise ConfigError(
            f"{variant} needs labels; dataset {data.name!r} has none{hint}. "
            "Use labelled data or train.variant=infogan, which needs no labels."
        )
    return int(data.num_classes)


def base_networks(cfg: Config, data: Any) -> tuple[str, dict, str, dict]:
    """(G base, its kwargs without z_dim, D base, its kwargs) for ``model.generator`` and
    ``model.discriminator``: "dcgan" (square images) or "mlp" (any data; also "auto")."""
    m, shape = cfg.model, list(data.shape)
    gen, disc = (v if v != "auto" else "mlp" for v in (m.generator, m.discriminator))
    for key, value in (("generator", gen), ("discriminator", disc)):
        if value not in ("mlp", "dcgan"):
            raise ConfigError(f"model.{key}={value!r}; conditional variants use mlp or dcgan.")
        if value == "dcgan" and (data.kind != "image" or shape[1] != shape[2]):
            raise ConfigError(
                f"model.{key}=dcgan needs square images; {data.name!r} has shape {tuple(shape)}. "
                "Use mlp, or set data.image_size."
            )
    if gen == "dcgan":
        g = {"image_size": shape[1], "channels": shape[0], "width": m.g_channels}
    else:
        g = {"out_shape": shape, "hidden": m.hidden, "layers": m.layers}
        g["tanh"] = data.kind == "image"  # images live in [-1, 1]
    if disc == "dcgan":
        d = {"image_size": shape[1], "channels": shape[0], "width": m.d_channels}
    else:
        d = {"in_shape": shape, "hidden": m.hidden, "layers": m.layers}
    return f"{gen}_g", g, f"{disc}_d", d


def refuse_unrolling(cfg: Config, variant: str) -> None:
    """Unrolled D steps (Metz et al. 2016) unroll the adversarial loss only; D's extra head
    (AC classifier, InfoGAN's Q) would have no gradient in them."""
    if cfg.tricks.unrolled_steps:
        raise ConfigError(
            f"tricks.unrolled_steps is not supported by train.variant={variant} (its D has a "
            "second head outside the unrolled loss); drop the trick or use cgan."
        )


@VARIANTS.register("cgan")
class CGAN(GAN):
    name = "cgan"
    conditional = True

    def layout(self, cfg: Config, data: Any) -> LatentLayout:
        names = tuple(data.class_names or ())
        return LatentLayout(cfg.model.z_dim, require_labels(data, self.name), class_names=names)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        self.latent = self.layout(cfg, data)
        m, o, K = cfg.model, cfg.options, self.latent.num_classes
        g_base, g_kw, d_base, d_kw = base_networks(cfg, data)
        label = {"num_classes": K, "label_mode": o.label_mode, "embed_dim": o.embed_dim}
        G = build_network("cond_g", base=g_base, base_kwargs=g_kw, z_dim=m.z_dim, **label)
        D = build_network("cond_d", base=d_base, base_kwargs=d_kw, **label)
        return {"G": G, "D": D}

    def fake_batch(self, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, Any]:
        z = ctx.sample_z(ctx.batch_size)
        y = self.latent.draw_labels(ctx.batch_size, ctx.rng, z.device)  # y ~ U{0..K-1}
        return nets["G"](z, y), y

    def d_logits(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"](x, cond)  # D(x | y): real labels for real x, drawn ones for G(z | y)

    def d_features(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"].features(x, cond)  # phi of the pair (x, y), for feature matching
