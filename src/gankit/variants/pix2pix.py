"""Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial
Networks" (Pix2Pix).

A generator G maps an input image x to an output image (a U-Net, gankit.networks.unet, with
dropout as its only noise, Sec. 3.1) and a PatchGAN D (gankit.networks.patchgan) judges
N x N patches of the pair (x, image), concatenated along channels (Sec. 3.2.2). On paired
data (the dataset's ``x`` and field ``b``, aligned item by item):

    L_cGAN(G, D) = E_{x,b}[log D(x, b)] + E_x[log(1 - D(x, G(x)))]            (Eq. 1)
    L_L1(G)      = E_{x,b}[||b - G(x)||_1]                                    (Eq. 3)
    G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G),  lambda = 100         (Eq. 4, Sec. 4.2)

D minimises its side of Eq. 1 divided by 2, "which slows down the rate at which D learns
relative to G" (Sec. 3.3; ``options.d_scale``); G takes the non-saturating form, maximising
log D(x, G(x)) (Sec. 3.3). Both use Adam, lr 2e-4, betas (0.5, 0.999) (the presets). The
patch logits are averaged, so that each patch is one decision (for label tricks too).

The ablations of Table 1, ``options.objective``:

    l1       lambda L_L1 only: no discriminator is built or trained;
    gan      L_GAN alone, D judges the output without the input (unconditional);
    cgan     L_cGAN alone (Eq. 1);
    l1+gan   lambda L_L1 + L_GAN (D unconditional, Eq. 2);
    l1+cgan  lambda L_L1 + L_cGAN (Eq. 4), the paper's model and the default.

D's loss terms go through tricks.AdversarialTerms (instance noise on the judged image, label
smoothing, soft / noisy labels, gradient penalties, R1, historical averaging), and the
adversarial family is train.loss (``gan``: the paper's cross-entropy; ``lsgan`` works too).
``options.norm`` normalises both networks (batch in the paper; instance is its batch-size-1
equivalent, Sec. 3.3); ``model.d_norm=layer`` or ``none`` gives D a batch-independent one, as a
gradient penalty or R1 needs.

Exports ``apply``: x -> G(x), fully convolutional (any side >= the U-Net's min_size, padded
internally; see gankit.networks.unet), deterministic (eval mode: no dropout). There is no
noise sampler.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config, TricksConfig
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.networks.unet import unet_depth
from gankit.presets import register_preset
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

OBJECTIVES = ("l1", "gan", "cgan", "l1+gan", "l1+cgan")


@VARIANT_OPTIONS.register("pix2pix")
@dataclass
class Pix2PixOptions:
    objective: str = "l1+cgan"  # the loss of Table 1: l1, gan, cgan, l1+gan, l1+cgan
    lambda_l1: float = 100.0  # lambda of Eq. 4 (Sec. 4.2)
    d_scale: float = 0.5  # D's objective divided by 2 (Sec. 3.3)
    d_layers: int = 3  # PatchGAN's stride-2 convs: receptive field 9*2^n-2 (3 -> 70x70)
    norm: str = "batch"  # of U-Net and PatchGAN: batch (the paper), instance or none
    dropout: float = 0.5  # in the U-Net's first 3 decoder blocks (Sec. 6.1.1)

    def validate(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"options.objective={self.objective!r}; valid: {', '.join(OBJECTIVES)}."
            )
        if not self.lambda_l1 >= 0 or not self.d_scale > 0:
            raise ConfigError("options.lambda_l1 must be >= 0 and options.d_scale > 0.")
        if self.norm not in ("batch", "instance", "none"):
            raise ConfigError(f"options.norm={self.norm!r}; valid: batch, instance, none.")

    @property
    def uses_l1(self) -> bool:
        return self.objective.startswith("l1")

    @property
    def adversarial(self) -> bool:
        return self.objective != "l1"

    @property
    def conditional(self) -> bool:
        return self.objective.endswith("cgan")


@VARIANTS.register("pix2pix")
class Pix2Pix(Variant):
    name = "pix2pix"
    applies = "translate an input image to its output image (G, fully convolutional)"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        x_shape, b_shape = paired_shapes(data)
        o, m = cfg.options, cfg.model
        nets = {
            "G": build_network(
                "unet",
                in_channels=x_shape[0],
                out_channels=b_shape[0],
                image_size=max(x_shape[1:]),
                width=m.g_channels,
                dropout=o.dropout,
                norm=o.norm,
            )
        }
        if o.adversarial:  # Table 1's "L1" row trains no discriminator at all
            d_in = b_shape[0] + (x_shape[0] if o.conditional else 0)
            sn = {"spectral_norm": True} if cfg.tricks.spectral_norm else {}
            nets["D"] = build_network(
                "patchgan",
                in_channels=d_in,
                width=m.d_channels,
                n_layers=o.d_layers,
                # model.d_norm=layer / none (for gradient penalties) overrides options.norm
                norm=o.norm if m.d_norm == "batch" else m.d_norm,
                **sn,
            )
        return nets

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o, k = cfg.train, cfg.options, cfg.tricks
        G, betas = nets["G"], (t.beta1, t.beta2)
        if not o.adversarial:
            if k != TricksConfig():
                raise ConfigError(
                    "tricks.* act on a discriminator; options.objective=l1 trains none. "
                    "Drop the tricks or choose an adversarial objective."
                )
            return [Phase("G", ["G"], lambda ctx: l1_terms(o, ctx, G(ctx["x"])), t.lr_g, betas)]
        D = nets["D"]
        tricks.check_tricks(cfg, D, G, names=("D", "G"))
        if k.feature_matching or k.unrolled_steps:
            raise ConfigError(
                "pix2pix supports D's loss-term tricks, not feature matching or unrolling."
            )
        self.history = tricks.history_from(cfg)
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)

        def judged(x: Tensor, image: Tensor) -> Tensor:
            """D's input: (x, image) along channels for cGAN (Eq. 1), the image alone for GAN."""
            return torch.cat([x, image], dim=1) if o.conditional else image

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            x, b = ctx["x"], ctx["b"]
            with torch.no_grad():
                fake = G(x)
            real_in, fake_in = judged(x, adv.noisy(b, ctx)), judged(x, adv.noisy(fake, ctx))
            real_logits, fake_logits = D(real_in).flatten(), D(fake_in).flatten()  # per patch
            adv.log_outputs(ctx, real_logits, fake_logits, names=("x,b", "x,G(x)"))
            terms = adv.d_terms(ctx, real_logits, fake_logits, D, real_in, fake_in, ("D", D))
            return {name: o.d_scale * value for name, value in terms.items()}  # Sec. 3.3

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            x = ctx["x"]
            fake = G(x)
            logits = D(judged(x, adv.noisy(fake, ctx))).flatten()
            return {**adv.g_terms(ctx, logits, ("G", G)), **l1_terms(o, ctx, fake)}

        clip = tricks.clip_value(k, adv.family)
        return [
            Phase(
                "D",
                ["D"],
                d_loss,
                lr=t.lr_d,
                betas=betas,
                repeat=t.d_steps,
                after_step=tricks.weight_clipper(D, clip) if clip else None,
            ),
            Phase("G", ["G"], g_loss, lr=t.lr_g, betas=betas),
        ]

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        x_shape, b_shape = paired_shapes(data)
        least = 2 ** (unet_depth(max(x_shape[1:])) - 1)  # the U-Net's min_size
        return {
            "apply": Export(
                "G",
                "map",
                # fully convolutional: any H, W >= min_size (gankit.applying.size_rule)
                input={"kind": "image", "shape": list(x_shape), "min_size": least},
                output={"kind": "image", "shape": list(b_shape)},
                description="translate input -> output (Pix2Pix G)",
            )
        }

    def preview(self, p: Any) -> None:
        """Rows of fixed test inputs, their translations G(x) and the targets."""
        x, b = self.fixed_pairs(p)
        p.translation("apply", x, b)

    def fixed_pairs(self, p: Any, n: int = 8) -> tuple[Tensor, Tensor]:
        """The first ``n`` pairs of the test split where the dataset has one, else of the
        training data; loaded once per run."""
        if getattr(self, "_fixed", None) is None:
            d, data = p.cfg.data, p.data
            with contextlib.suppress(ConfigError, DataError):  # no test split: training data
                data = load_dataset(
                    d.name, root=d.root, split="test", image_size=d.image_size,
                    channels=d.channels,
                )  # fmt: skip
            self._fixed = (data.x[:n], data.fields["b"][:n])
        return self._fixed


def l1_terms(o: Pix2PixOptions, ctx: StepContext, fake: Tensor) -> dict[str, Tensor]:
    """lambda E||b - G(x)||_1 (Eq. 3), mean over pixels; logged unweighted as ``L1``."""
    l1 = (ctx["b"] - fake).abs().mean()
    ctx.log("L1", l1)
    return {"g_l1": o.lambda_l1 * l1} if o.uses_l1 else {}


def paired_shapes(data: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(C, H, W) of the input x and of the target b; one ConfigError line for data pix2pix
    cannot take."""
    if data.kind != "image" or "b" not in data.fields:
        hint = " (unpaired domains: use train.variant=cyclegan)" if "b" in data.unpaired else ""
        raise ConfigError(
            f"pix2pix needs paired images (fields x and b); dataset {data.name!r} has "
            f"{', '.join(data.field_names)}{hint}. Use data.name=fashion-edges, derain or "
            "paired-folder."
        )
    x_shape, b_shape = tuple(data.shape), tuple(data.fields["b"].shape[1:])
    if x_shape[1:] != b_shape[1:]:
        raise ConfigError(
            f"pix2pix maps images to images of the same size; {data.name!r} pairs "
            f"{x_shape[2]}x{x_shape[1]} inputs with {b_shape[2]}x{b_shape[1]} targets "
            "(super-resolution: train.variant=srgan)."
        )
    return x_shape, b_shape


_PIX2PIX = {
    "train.variant": "pix2pix",
    "train.loss": "gan",  # the cross-entropy of Eq. 1, non-saturating for G (Sec. 3.3)
    "train.lr_g": 2e-4,  # Adam, Sec. 3.3
    "train.lr_d": 2e-4,
    "train.beta1": 0.5,
    "train.beta2": 0.999,
    "log.sample_every": 0,
    "log.checkpoint_every": 500,
}
register_preset(
    "pix2pix-edges",
    "Pix2Pix on fashion-edges: Canny edges -> Fashion-MNIST image; U-Net, 34x34 PatchGAN; "
    "~4 CPU minutes",
    {
        **_PIX2PIX,
        "data.name": "fashion-edges",
        "model.g_channels": 16,  # U-Net C16-C32-C64-C128-C128: CPU-sized
        "model.d_channels": 16,
        "options.d_layers": 2,
        "train.batch_size": 64,
        # ~4 CPU minutes on one thread (4.3 epochs: two batches a step); sharp outputs from
        # about step 900 (benchmarks/pix2pix_fashion.py)
        "train.steps": 2000,
    },
)
register_preset(
    "pix2pix-derain",
    "Pix2Pix de-raining: procedural rain streaks over 64x64 crops of scikit-learn's photos; "
    "~5 CPU minutes",
    {
        **_PIX2PIX,
        "data.name": "derain",
        "data.image_size": 64,
        "model.g_channels": 16,  # U-Net C16-C32-C64-C128-C128-C128 at 64x64
        "model.d_channels": 16,
        "options.d_layers": 2,
        "train.batch_size": 16,
        "train.steps": 2000,  # ~5 CPU minutes on one thread (64 epochs of the 1000 crops)
        "log.sample_every": 250,
    },
)
register_preset(
    "pix2pix-folder",
    "Pix2Pix on your paired images: --set data.root=DIR with A/ and B/ (matching names) or "
    "side-by-side AB images; RGB, 64x64; ~5 CPU minutes",
    {
        **_PIX2PIX,
        "data.name": "paired-folder",
        "data.image_size": 64,
        "data.channels": 3,
        "model.g_channels": 16,  # U-Net C16-C32-C64-C128-C128-C128 at 64x64
        "model.d_channels": 16,
        "options.d_layers": 2,
        "train.batch_size": 16,
        "train.steps": 2000,  # ~5 CPU minutes at 64x64 on one thread, as pix2pix-derain
        "log.sample_every": 250,
    },
)
