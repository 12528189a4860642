"""Adversarial segmentation: Luc, Couprie, Chintala & Verbeek 2016, "Semantic Segmentation
using Adversarial Networks"; Kohl et al. 2017, "Adversarial Networks for the Detection of
Aggressive Prostate Cancer" (lecture 004).

A segmenter S (a U-Net, gankit.networks.seg_unet) maps an image x (N, C, H, W) to class
probabilities s(x) = softmax over K classes (N, K, H, W). A discriminator a (a PatchGAN)
judges (image, label map) pairs, concatenated along channels (Luc et al. Sec. 3.2, the
"basic" input): the true one-hot mask y against S's softmax s(x). With the multi-class
cross-entropy l_mce and the binary one l_bce (Luc et al. Eq. 1-3):

    D:  min  sum_n l_bce(a(x_n, y_n), 1) + l_bce(a(x_n, s(x_n)), 0)              (Eq. 2)
    S:  min  sum_n l_mce(s(x_n), y_n) + lambda l_bce(a(x_n, s(x_n)), 1)          (Eq. 3)

Eq. 3 is the non-saturating form Luc et al. use for S ("maximise the probability that a
predicts s(x) is a ground-truth map"). ``options.objective`` picks the training scheme of
Kohl et al.'s Table 1:

    ce           l_mce only (or the soft Dice loss, options.supervised=dice): no D is built;
    adversarial  the adversarial term alone (Kohl's L_S & L_D): S learns only through a;
    hybrid       Eq. 3: supervised + lambda * adversarial, lambda = options.adv_weight.

``options.supervised=dice`` replaces l_mce by 1 - the soft Dice of Milletari et al. 2016
(V-Net, Eq. 1): 2 sum p g / (sum p^2 + sum g^2), averaged over the foreground classes.
D's terms go through tricks.AdversarialTerms (train.loss: gan is Eq. 2's cross-entropy) and
its patch logits are averaged. Exports ``apply``: image -> mask, the argmax class of each
pixel (N, 1, H, W) (``gankit apply`` writes 0/255 PNGs for binary masks, class indices
otherwise). Preview rows: images, predicted masks, true masks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config, TricksConfig
from gankit.errors import ConfigError, DataError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.networks.unet import unet_depth
from gankit.presets import register_preset
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

OBJECTIVES = ("ce", "adversarial", "hybrid")
SUPERVISED = ("ce", "dice")
NAME = "segmentation-gan"


@VARIANT_OPTIONS.register(NAME)
@dataclass
class SegmentationOptions:
    objective: str = "hybrid"  # ce, adversarial or hybrid (Kohl et al. Table 1)
    supervised: str = "ce"  # the supervised term: ce (l_mce) or dice (soft Dice loss)
    adv_weight: float = 0.5  # lambda of Luc et al. Eq. 3 (hybrid only)
    d_layers: int = 2  # PatchGAN's stride-2 convs: 34x34 patches (2), 16x16 (1)
    norm: str = "batch"  # of S and D: batch, instance or none

    def validate(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"options.objective={self.objective!r}; valid: {', '.join(OBJECTIVES)}."
            )
        if self.supervised not in SUPERVISED:
            raise ConfigError(f"options.supervised={self.supervised!r}; valid: ce, dice.")
        if not self.adv_weight >= 0:
            raise ConfigError(f"options.adv_weight={self.adv_weight} must be >= 0.")
        if self.norm not in ("batch", "instance", "none"):
            raise ConfigError(f"options.norm={self.norm!r}; valid: batch, instance, none.")


def one_hot(mask: Tensor, k: int) -> Tensor:
    """int mask (N, 1, H, W) of 0..K-1 -> float one-hot (N, K, H, W)."""
    return F.one_hot(mask[:, 0].long(), k).permute(0, 3, 1, 2).float()


def soft_dice_loss(probs: Tensor, target: Tensor) -> Tensor:
    """1 - mean over foreground classes of 2 sum(p g) / (sum p^2 + sum g^2) (Milletari et al.
    2016, Eq. 1), pooled over the batch's pixels; ``target`` one-hot like ``probs``."""
    dims = (0, 2, 3)
    overlap = (probs * target).sum(dims)
    sizes = probs.pow(2).sum(dims) + target.pow(2).sum(dims)
    return 1 - (2 * overlap / sizes.clamp_min(1e-6))[1:].mean()


def supervised_loss(options: SegmentationOptions, logits: Tensor, mask: Tensor) -> Tensor:
    if options.supervised == "dice":
        return soft_dice_loss(logits.softmax(1), one_hot(mask, logits.shape[1]))
    return F.cross_entropy(logits, mask[:, 0].long())  # l_mce, mean over pixels


def mask_classes(data: Any) -> int:
    """K, the mask classes of segmentation ``data``; one ConfigError line for other data."""
    if data.kind != "image" or "mask" not in getattr(data, "fields", {}):
        raise ConfigError(
            f"{NAME} needs images with masks (field mask); dataset {data.name!r} has none. "
            "Use data.name=lesions or mask-folder."
        )
    return int(data.info.get("classes", 2))


@VARIANTS.register(NAME)
class AdversarialSegmentation(Variant):
    name = NAME
    ema_modules = ("S",)
    applies = "segment images: image -> mask of class indices (S, fully convolutional)"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        k, (c, h, w) = mask_classes(data), data.shape
        o, m = cfg.options, cfg.model
        nets = {
            "S": build_network("seg_unet", in_channels=c, classes=k, image_size=max(h, w),
                               width=m.g_channels, norm=o.norm)
        }  # fmt: skip
        if o.objective != "ce":
            sn = {"spectral_norm": True} if cfg.tricks.spectral_norm else {}
            nets["D"] = build_network(
                "patchgan", in_channels=c + k, width=m.d_channels, n_layers=o.d_layers,
                norm=o.norm if m.d_norm == "batch" else m.d_norm, **sn,
            )  # fmt: skip
        return nets

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o = cfg.train, cfg.options
        S, betas = nets["S"], (t.beta1, t.beta2)

        def watch(ctx: StepContext, logits: Tensor, mask: Tensor) -> None:
            with torch.no_grad():  # both supervised losses, whatever S trains on
                ctx.log("ce", F.cross_entropy(logits, mask[:, 0].long()))
                ctx.log("dice_loss", soft_dice_loss(logits.softmax(1), one_hot(mask, S.classes)))

        if o.objective == "ce":
            if cfg.tricks != TricksConfig():
                raise ConfigError("tricks.* act on a discriminator; objective=ce trains none.")

            def ce_loss(ctx: StepContext) -> dict[str, Tensor]:
                logits = S(ctx["x"])
                watch(ctx, logits, ctx["mask"])
                return {"s_sup": supervised_loss(o, logits, ctx["mask"])}

            return [Phase("S", ["S"], ce_loss, lr=t.lr_g, betas=betas)]
        D = nets["D"]
        tricks.check_tricks(cfg, D, S, names=("D", "S"))
        if cfg.tricks.feature_matching or cfg.tricks.unrolled_steps:
            raise ConfigError(f"{NAME} supports D's loss-term tricks, not feature matching.")
        self.history = tricks.history_from(cfg)
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            x, mask = ctx["x"], ctx["mask"]
            with torch.no_grad():
                probs = S(x).softmax(1)
            real_in = adv.noisy(torch.cat([x, one_hot(mask, S.classes)], 1), ctx)
            fake_in = adv.noisy(torch.cat([x, probs], 1), ctx)
            real_logits, fake_logits = D(real_in).flatten(), D(fake_in).flatten()
            adv.log_outputs(ctx, real_logits, fake_logits, names=("x,y", "x,s(x)"))
            return adv.d_terms(ctx, real_logits, fake_logits, D, real_in, fake_in, ("D", D))

        def s_loss(ctx: StepContext) -> dict[str, Tensor]:
            x, mask = ctx["x"], ctx["mask"]
            logits = S(x)
            watch(ctx, logits, mask)
            fake_logits = D(adv.noisy(torch.cat([x, logits.softmax(1)], 1), ctx)).flatten()
            terms = adv.g_terms(ctx, fake_logits, ("S", S))
            if o.objective == "hybrid":  # Eq. 3
                terms["g_adv"] = o.adv_weight * terms["g_adv"]
                terms["s_sup"] = supervised_loss(o, logits, mask)
            return terms

        return [
            Phase("D", ["D"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps),
            Phase("S", ["S"], s_loss, lr=t.lr_g, betas=betas),
        ]

    def network_families(self, nets: dict[str, nn.Module]) -> dict[str, str]:
        found = {"generator": "seg_unet"}
        if "D" in nets:
            found["discriminator"] = "patchgan"
        return found

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        k, (c, h, w) = mask_classes(data), data.shape
        least = 2 ** (unet_depth(max(h, w)) - 1)  # the U-Net's min_size
        return {
            "apply": Export(
                "S",
                "map",
                input={"kind": "image", "shape": [c, h, w], "min_size": least},
                # "labels": the output is a mask of class indices 0..K-1, not pixels in [-1, 1]
                output={"kind": "image", "shape": [1, h, w], "labels": k},
                call="labels",
                description=f"segment: image -> mask of {k} classes",
            )
        }

    def preview(self, p: Any) -> None:
        """Rows of 8 fixed test images, their predicted masks, their true masks."""
        S = p.model("apply")
        if S is None:
            return
        x, mask = self.fixed_pairs(p)
        from gankit.nn.modes import evaluating

        with torch.no_grad(), evaluating(S):
            pred = S.labels(x.to(p.device)).cpu()
        scale = 2.0 / max(S.classes - 1, 1)  # class k drawn as grey level -1 + 2k / (K - 1)
        p.image_grid(torch.cat([x, pred * scale - 1, mask.float() * scale - 1]), nrow=len(x))

    def fixed_pairs(self, p: Any, n: int = 8) -> tuple[Tensor, Tensor]:
        """The first ``n`` images and masks of the test split (training data without one)."""
        if getattr(self, "_fixed", None) is None:
            from gankit.data import load_dataset

            d, data = p.cfg.data, p.data
            with contextlib.suppress(ConfigError, DataError):
                data = load_dataset(d.name, root=d.root, split="test", image_size=d.image_size,
                                    channels=d.channels)  # fmt: skip
            self._fixed = (data.x[:n], data.fields["mask"][:n])
        return self._fixed


_SEG = {
    "train.variant": NAME,
    "train.loss": "gan",  # the binary cross-entropy of Luc et al. Eq. 2
    "train.lr_g": 1e-3,
    "train.lr_d": 2e-4,
    "train.beta1": 0.5,
    "train.beta2": 0.999,
    "model.g_channels": 16,
    "model.d_channels": 16,
    "train.batch_size": 16,
    "log.sample_every": 250,
    "log.checkpoint_every": 500,
}
register_preset(
    "segmentation-lesions",
    "Adversarial segmentation (hybrid CE + 0.5 adversarial, Luc et al. 2016) of the procedural "
    "lesion set, 200 training images at 32x32",
    {**_SEG, "data.name": "lesions", "data.n_samples": 200, "train.steps": 1500},
)
register_preset(
    "segmentation-folder",
    "Adversarial segmentation of your images and masks: --set data.root=DIR with images/ and "
    "masks/ (same names; PNG masks 0/255 or class indices); 64x64",
    {**_SEG, "data.name": "mask-folder", "data.image_size": 64, "train.steps": 1500},
)
