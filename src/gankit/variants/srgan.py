"""Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network" (SRResNet / SRGAN), with the relativistic discriminator of ESRGAN
(Wang et al. 2018) as an option.

Data: paired low- / high-resolution images, the input ``x`` (I^LR, (N, C, h, w)) and the
target field ``b`` (I^HR, (N, C, s h, s w)), s = the dataset's info["scale"] (fashion-x4,
sr-folder). G is gankit.networks.srresnet's SRResNet, D its SRGAN discriminator.

Two stages, as in the paper (Sec. 3.2: SRGAN starts from the trained SRResNet):

1. SRResNet: G alone on the pixel-wise MSE (Eq. 4), phase ``pretrain``, for the first
   ``options.pretrain_steps`` steps (unset: ``options.pretrain_fraction`` of train.steps);
2. SRGAN: D and G in alternation (phases ``D`` and ``G``) with G's perceptual loss (Eq. 3)

       l^SR = l^SR_X + 1e-3 l^SR_Gen,   l^SR_Gen = sum_n -log D(G(I^LR))        (Eq. 6)

   (the non-saturating form; 1e-3 is ``options.adversarial_weight``, and D's loss and the
   tricks go through tricks.AdversarialTerms). The content loss l^SR_X is Eq. 5's squared
   distance of feature maps phi, averaged over their elements, with phi (``options.content``):
   ``pixel`` the image itself (Eq. 4, "SRGAN-MSE"), ``classifier`` the last conv block of
   gankit's Fashion-MNIST domain classifier (gankit.metrics.classifier; the offline stand-in
   for the paper's ImageNet VGG19, phi_5,4), ``discriminator`` D's own hidden features: the
   output of each of its conv blocks, from the first (nearly pixel-level) to the last, the
   distances averaged over the blocks (HR and SR in one pass, as in gankit.variants.vaegan;
   the per-layer matching of D's features of Wang et al. 2018, pix2pixHD, Eq. 4).

The presets use ``discriminator``: it needs no network trained elsewhere, so that srgan-folder
works on any photographs, and it keeps the benchmark's domain FID honest: the classifier's
last conv block is the very embedding that domain FID pools and compares, so an SRGAN trained
on it would be scored by its own loss. With D's last block alone, G drifted off the targets
(a 600-step pilot on fashion-x4: PSNR 14.9 dB, below bicubic's 16.0); the first blocks
anchor the intensities and the deeper ones judge structure. ``classifier`` is there for the
comparison (benchmarks/srgan_fashion.py); it is loaded from gankit's cache, or trained on
first use with a progress bar (a few CPU minutes; `gankit extractor train fashion-mnist`).

``options.relativistic``: D_Ra(x_r, x_f) = sigmoid(C(x_r) - E_xf[C(x_f)]) (Wang et al. 2018,
Eq. 1), with D's and G's losses Eq. 2 and its symmetric form for G:

    L_D = -E_xr[log D_Ra(x_r, x_f)] - E_xf[log(1 - D_Ra(x_f, x_r))]
    L_G = -E_xr[log(1 - D_Ra(x_r, x_f))] - E_xf[log D_Ra(x_f, x_r)]

``options.adversarial=false`` trains SRResNet alone (pixel MSE for every step; no D).
The switch is a pure function of the step (each phase's ``when``), and each phase has its own
Adam state in the checkpoint, so a run resumed before or after it continues exactly.

Exports ``apply``: I^LR -> G(I^LR), fully convolutional (any input size; the output is s times
larger). Preview: rows bicubic-upscaled input / G's output / target of 8 fixed test pairs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config
from gankit.data.images import from_unit_range, to_unit_range
from gankit.errors import ConfigError, GankitError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.nn.modes import evaluating
from gankit.presets import register_preset
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

CONTENTS = ("pixel", "classifier", "discriminator")
# the domain classifier (gankit.metrics.classifier) whose features serve each dataset's HR images
CLASSIFIER_FOR = {"fashion-x4": "fashion-mnist"}
PREVIEW_PAIRS = 8


@VARIANT_OPTIONS.register("srgan")
@dataclass
class SRGANOptions:
    pretrain_steps: int | None = None  # SRResNet steps on pixel MSE before D joins
    pretrain_fraction: float = 0.5  # used when pretrain_steps is unset: of train.steps
    adversarial: bool = True  # false: SRResNet alone, pixel MSE for every step
    content: str = "discriminator"  # phi of the content loss (Eq. 5): pixel, classifier, ...
    adversarial_weight: float = 1e-3  # weight of l^SR_Gen in l^SR (Eq. 3)
    relativistic: bool = False  # ESRGAN's relativistic average D (Wang et al. 2018, Eq. 1-2)
    blocks: int = 16  # B residual blocks of SRResNet (16 in Ledig et al.)

    def validate(self) -> None:
        if self.content not in CONTENTS:
            raise ConfigError(f"options.content={self.content!r}; valid: {', '.join(CONTENTS)}.")
        if self.pretrain_steps is not None and self.pretrain_steps < 0:
            raise ConfigError(f"options.pretrain_steps={self.pretrain_steps} must be >= 0.")
        if not 0.0 <= self.pretrain_fraction <= 1.0:
            raise ConfigError(f"options.pretrain_fraction={self.pretrain_fraction}: use [0, 1].")
        if not self.adversarial_weight >= 0:
            raise ConfigError(f"options.adversarial_weight={self.adversarial_weight} must be >= 0.")
        if self.blocks < 0:
            raise ConfigError(f"options.blocks={self.blocks} must be >= 0.")
        if self.relativistic and not self.adversarial:
            raise ConfigError("options.relativistic needs options.adversarial=true (a D to train).")


def pixel_mse(sr: Tensor, hr: Tensor) -> Tensor:
    """l^SR_MSE (Eq. 4): the mean squared pixel difference."""
    return (sr - hr).pow(2).mean()


def feature_content(phi: Callable[[Tensor], Any], sr: Tensor, hr: Tensor) -> Tensor:
    """l^SR_X (Eq. 5) in the feature space of ``phi``: the mean over the feature maps'
    elements of (phi(I^HR) - phi(G(I^LR)))^2; for a ``phi`` that returns a list of maps, the
    mean of that over the maps. SR and HR pass through phi together, so that a phi with batch
    statistics (D's BatchNorm in train mode) normalises both alike."""
    feats = phi(torch.cat([sr, hr]))
    feats = feats if isinstance(feats, (list, tuple)) else [feats]
    per_map = [(f_hr - f_sr).pow(2).mean() for f_sr, f_hr in (f.chunk(2) for f in feats)]
    return torch.stack(per_map).mean()


def relativistic_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """ESRGAN Eq. 2 for D: -E[log sigmoid(C_r - mean C_f)] - E[log(1 - sigmoid(C_f - mean C_r))];
    -log sigmoid(a) = softplus(-a) and -log(1 - sigmoid(a)) = softplus(a)."""
    return (
        F.softplus(-(real_logits - fake_logits.mean())).mean()
        + F.softplus(fake_logits - real_logits.mean()).mean()
    )


def relativistic_g_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """ESRGAN's G loss (the symmetric form of Eq. 2): -E[log(1 - D_Ra(x_r, x_f))] -
    E[log D_Ra(x_f, x_r)]; G's gradient comes from both terms through C(x_f)."""
    return (
        F.softplus(real_logits - fake_logits.mean()).mean()
        + F.softplus(-(fake_logits - real_logits.mean())).mean()
    )


def bicubic_upscale(x: Tensor, scale: int) -> Tensor:
    """Pillow's BICUBIC resize of each image of ``x`` ([-1, 1], (N, C, h, w)) to (s h, s w),
    through uint8 pixels as a user's image file would go: the baseline of SR tables."""
    from PIL import Image

    n, c, h, w = x.shape
    out = []
    for img in from_unit_range(x).numpy():  # (C, h, w) uint8
        pil = Image.fromarray(img[0] if c == 1 else img.transpose(1, 2, 0))
        up = np.asarray(pil.resize((w * scale, h * scale), Image.Resampling.BICUBIC))
        out.append(up[None] if c == 1 else up.transpose(2, 0, 1))
    return to_unit_range(np.stack(out)) if out else x.new_zeros((0, c, h * scale, w * scale))


def scale_of(data: Any) -> int:
    """The upscaling factor of paired LR / HR ``data``: info["scale"], checked against the
    shapes; a ConfigError for data that is not such pairs."""
    target = data.fields.get("b")
    if data.kind != "image" or target is None:
        raise ConfigError(
            f"srgan needs paired low- / high-resolution images (x and field b); dataset "
            f"{data.name!r} has {', '.join(data.field_names)}. Use data.name=fashion-x4 or "
            "sr-folder."
        )
    (c, h, w), (hc, hh, hw) = data.shape, tuple(target.shape[1:])
    scale = int(data.info.get("scale", hh // max(h, 1)))
    if hc != c or (hh, hw) != (h * scale, w * scale):
        raise ConfigError(
            f"dataset {data.name!r}: targets {hc}x{hh}x{hw} are not x{scale} of the inputs "
            f"{c}x{h}x{w}; srgan needs HR = scale x LR with the same channels."
        )
    return scale


def domain_classifier(dataset: str, device: torch.device) -> nn.Module:
    """phi of options.content=classifier: the cached domain classifier's conv body up to its
    last conv block (N, 4w, H/4, W/4), frozen, in eval mode; trained on first use."""
    from gankit.metrics.classifier import is_cached, load_classifier, train_classifier

    if not is_cached(dataset):
        print(
            f"gankit: options.content=classifier: training the {dataset} domain classifier "
            "once (a few CPU minutes; cached for later runs) ...",
            file=sys.stderr,
        )
        train_classifier(dataset, progress=True)
    net, _ = load_classifier(dataset, device)
    phi = net.body[:-2]  # drop the global average pool and the flatten
    return phi.requires_grad_(False).eval()


@VARIANTS.register("srgan")
class SRGAN(Variant):
    name = "srgan"
    ddp_safe = False  # D.features is called outside D's forward (options.content)
    applies = "super-resolve images of any size (apply: output = scale x input)"
    _preview_pairs: tuple[Tensor, Tensor] | None = None

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        o, m = cfg.options, cfg.model
        scale = scale_of(data)
        channels = data.shape[0]
        G = build_network(
            "srresnet", channels=channels, scale=scale, width=m.g_channels, blocks=o.blocks
        )
        if not o.adversarial:
            return {"G": G}
        k = tricks.discriminator_options(cfg)
        unsupported = sorted(set(k) - {"spectral_norm", "norm"})
        if unsupported:
            raise ConfigError(
                f"tricks {', '.join(unsupported)} are not supported by train.variant=srgan; "
                "drop them (spectral_norm and model.d_norm=none are)."
            )
        side = data.fields["b"].shape[-1]
        D = build_network(
            "srgan_d",
            channels=channels,
            width=m.d_channels,
            pool=max(1, min(4, -(-side // 16))),  # the trunk's own grid, at most 4 x 4
            **k,
        )
        return {"G": G, "D": D}

    def switch_step(self, cfg: Config) -> int:
        """The first SRGAN step: options.pretrain_steps, else the fraction of train.steps
        (read when called: --epochs sets train.steps after the phases are made)."""
        o = cfg.options
        if o.pretrain_steps is not None:
            return o.pretrain_steps
        return int(round(o.pretrain_fraction * cfg.train.steps))

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o, k = cfg.train, cfg.options, cfg.tricks
        G = nets["G"]
        betas = (t.beta1, t.beta2)

        def pixel_loss(ctx: StepContext) -> dict[str, Tensor]:
            return {"g_mse": pixel_mse(G(ctx["x"]), ctx["b"])}

        if not o.adversarial:  # SRResNet alone
            return [Phase("pretrain", ["G"], pixel_loss, lr=t.lr_g, betas=betas)]
        D = nets["D"]
        tricks.check_tricks(cfg, D, G, names=("D", "G"))
        if k.feature_matching or k.unrolled_steps:
            raise ConfigError("srgan does not take tricks.feature_matching or unrolled_steps.")
        self.history = tricks.history_from(cfg)
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)
        penalty = tricks.gp_weight(k, adv.family) > 0 or k.r1_weight > 0
        if o.relativistic and (t.loss != "gan" or tricks.uses_targets(k) or penalty):
            raise ConfigError(
                "options.relativistic is the relativistic form of the standard GAN loss: it "
                "needs train.loss=gan and no label smoothing / soft / flipped labels or "
                "gradient penalties."
            )
        content = self._content(cfg, nets)

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            with torch.no_grad():  # the D step builds no graph of G
                sr = G(ctx["x"])
            real_in, fake_in = adv.noisy(ctx["b"], ctx), adv.noisy(sr, ctx)
            real_logits, fake_logits = D(real_in), D(fake_in)
            adv.log_outputs(ctx, real_logits, fake_logits, names=("HR", "SR"))
            if o.relativistic:
                terms = {"d_adv": relativistic_d_loss(real_logits, fake_logits)}
                if self.history is not None:  # historical averaging (Salimans et al. 2016)
                    terms["d_hist"] = self.history.term("D", D)
                return terms
            return adv.d_terms(ctx, real_logits, fake_logits, D, real_in, fake_in, ("D", D))

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            hr = ctx["b"]
            sr = G(ctx["x"])
            fake_logits = D(adv.noisy(sr, ctx))
            if o.relativistic:
                with torch.no_grad():  # C(x_r) does not depend on G
                    real_logits = D(adv.noisy(hr, ctx))
                gen = relativistic_g_loss(real_logits, fake_logits)
            else:
                gen = adv.g_objective(fake_logits)  # Eq. 6, non-saturating
            ctx.log("mse(SR, HR)", pixel_mse(sr.detach(), hr))
            return {
                "g_content": content(sr, hr),
                "g_adv": o.adversarial_weight * gen,
                **adv.g_terms(ctx, None, ("G", G)),  # historical averaging where configured
            }

        def before(s: int) -> bool:
            return s < self.switch_step(cfg)

        def after(s: int) -> bool:
            return s >= self.switch_step(cfg)

        return [
            Phase("pretrain", ["G"], pixel_loss, lr=t.lr_g, betas=betas, when=before),
            Phase("D", ["D"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps, when=after),
            Phase("G", ["G"], g_loss, lr=t.lr_g, betas=betas, when=after),
        ]

    def _content(
        self, cfg: Config, nets: dict[str, nn.Module]
    ) -> Callable[[Tensor, Tensor], Tensor]:
        """l^SR_X of options.content as a function of (SR, HR)."""
        choice = cfg.options.content
        if choice == "pixel":
            return pixel_mse
        if choice == "discriminator":
            D = nets["D"]
            return lambda sr, hr: feature_content(D.block_features, sr, hr)
        dataset = CLASSIFIER_FOR.get(cfg.data.name)
        if dataset is None:
            raise ConfigError(
                f"options.content=classifier needs a domain classifier for data.name="
                f"{cfg.data.name!r}; gankit has one for {', '.join(CLASSIFIER_FOR)}. Use "
                "options.content=discriminator or pixel."
            )
        phi = domain_classifier(dataset, next(nets["G"].parameters()).device)
        return lambda sr, hr: feature_content(phi, sr, hr)

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        c, h, w = data.shape
        s = scale_of(data) if data.kind == "image" and "b" in data.fields else 1
        return {
            "apply": Export(
                "G",
                "map",
                # fully convolutional: any h, w (gankit apply reads multiple_of / min_size)
                input={"kind": "image", "shape": [c, h, w], "multiple_of": 1, "min_size": 1},
                output={"kind": "image", "shape": [c, h * s, w * s], "scale": s},
                description=f"super-resolve x{s} (any input size)",
            )
        }

    def preview(self, p: Any) -> None:
        """Rows: Pillow-bicubic upscaled input, G's output, target; 8 fixed test pairs."""
        G = p.model("apply")
        if G is None:
            return
        lr, hr = self.fixed_pairs(p.cfg, p.data)
        with evaluating(G):
            sr = G(lr.to(p.device)).float().cpu()
        rows = torch.cat([bicubic_upscale(lr, hr.shape[-1] // lr.shape[-1]), sr, hr])
        p.image_grid(rows, nrow=len(lr))

    def fixed_pairs(self, cfg: Config, data: Any) -> tuple[Tensor, Tensor]:
        """The first pairs of the test split (of the training data where there is none)."""
        if self._preview_pairs is None:
            from gankit.data import load_dataset

            d, test = cfg.data, data
            if d.split != "test":
                try:
                    with torch.random.fork_rng(devices=[]):
                        test = load_dataset(
                            d.name, root=d.root, split="test", image_size=d.image_size,
                            channels=d.channels, seed=cfg.train.seed,
                        )  # fmt: skip
                except GankitError:
                    test = data
            n = min(PREVIEW_PAIRS, len(test))
            self._preview_pairs = (test.x[:n].clone(), test.fields["b"][:n].clone())
        return self._preview_pairs


# Sized for 2 CPU cores (measured on one thread): widths 32 / 16, 6 residual blocks, 16 pairs.
_SR = {
    "train.variant": "srgan",
    "model.g_channels": 32,
    "model.d_channels": 16,
    "options.blocks": 6,
    "train.batch_size": 16,
    "train.beta1": 0.9,  # Ledig et al. Sec. 3.2: Adam with beta1 = 0.9
    "train.lr_g": 1e-3,  # 10x the paper's 1e-4: minutes, not 10^6 updates
    "train.lr_d": 1e-4,
    # SRResNet for 80% of the steps, SRGAN for the rest: at these rates the adversarial phase
    # turned unstable after ~1000 steps (srgan-fashion with 0.5 of 3000: D(SR) fell to 0.001
    # and domain FID rose from 3.73 at step 2000 to 5.19 at step 3000, above SRResNet's 4.92)
    "options.pretrain_fraction": 0.8,
    "log.sample_every": 500,
    "log.checkpoint_every": 1000,
}
register_preset(
    "srgan-fashion",
    "SRGAN x4 on fashion-x4 (7x7 -> 28x28): SRResNet pre-training, then content + 1e-3 adversarial",
    {**_SR, "data.name": "fashion-x4", "train.steps": 3000},
)
register_preset(
    "srresnet-fashion",
    "SRResNet x4 on fashion-x4 (7x7 -> 28x28): pixel MSE alone, srgan-fashion's G",
    {**_SR, "data.name": "fashion-x4", "options.adversarial": False, "train.steps": 3000},
)
register_preset(
    "srgan-folder",
    "SRGAN x4 on your folder of photographs: --set data.root=DIR (64x64 HR crops, RGB)",
    # 64x64 crops (Ledig et al.: 96x96) in batches of 8: an adversarial step costs ~4x one
    # of srgan-fashion, so 2000 steps stay within the CPU budget
    {**_SR, "data.name": "sr-folder", "data.image_size": 64, "data.channels": 3,
     "train.batch_size": 8, "train.steps": 2000, "log.sample_every": 250},
)  # fmt: skip
