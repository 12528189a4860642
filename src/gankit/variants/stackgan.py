"""Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with Stacked Generative
Adversarial Networks" (StackGAN-v1), on caption data: each item has an image ``x`` and the
embedding phi_t of one of its captions, field ``text`` (float32 (E,)).

Conditioning augmentation (Sec. 3.1): c^ ~ N(mu(phi_t), diag sigma^2(phi_t)), reparameterised
as c^ = mu + sigma * eps, and the KL term lambda D_KL(N(mu, sigma^2) || N(0, I)) added to G's
loss; lambda = ``options.kl_weight``, 1 as in the paper ("lambda = 1 for all experiments",
Sec. 3.2). ``options.conditioning_augmentation=false`` is the ablation: c^ = mu(phi_t), a
deterministic linear compression of phi_t, and no KL term.

Two GANs trained one after the other (Sec. 3.4: "we first iteratively train D_0 and G_0 of
Stage-I GAN ... Then we iteratively train D and G of Stage-II GAN by fixing Stage-I GAN"):

1. stage I (phases ``D1``, ``G1``) for the first ``options.stage1_steps`` steps (unset:
   ``options.stage1_fraction`` of train.steps): G_0(z, c^_0) draws S/2 x S/2 images (14x14
   for Fashion-MNIST) against D_0, which sees the real images 2x2 average-pooled (Eq. 3):

       L_D0 = E[log D_0(I_0, phi_t)] + E[log(1 - D_0(G_0(z, c^_0), phi_t))]
       L_G0 = E[log(1 - D_0(G_0(z, c^_0), phi_t))] + lambda D_KL(N(mu_0, Sigma_0) || N(0, I))

2. stage II (phases ``D2``, ``G2``) for the rest: G(s_0, c^) refines s_0 = G_0(z, c^_0) to
   S x S against D on the real images (Eq. 5, the same form with s_0 in place of z). G_0 is
   frozen: it is in no phase, and it runs in eval mode (its BatchNorm statistics stay as stage
   I left them, the ones the sampler uses).

Both D's are matching-aware (Sec. 3.4, after Reed et al. 2016's GAN-CLS; ``options.
matching_aware``): a real image with a mismatched caption is a third, fake, pair. The caption
of the next item in the batch serves as the mismatched one (deterministic, no extra draw).
Its logits are appended to the fake ones, so that with a mean-reduced loss the two fake terms
weigh 1/2 each, as in Reed et al.'s Algorithm 1. G's objective and the tricks are the loss
family's (tricks.AdversarialTerms, terms ``d_1_adv``, ``g_2_adv``, ...); G's is the
non-saturating form by default (train.g_loss), as the paper's code trains.

Noise: model.z_dim = N_z + 2 N_g, split [z, eps_0, eps_1] (eps_0, eps_1 the two CAs' epsilons,
N_g = ``options.c_dim`` each), so a seeded sample is reproducible and a resumed run continues
exactly; the prior must be normal. Exports ``sample``: the ``stackgan`` composite, (z, phi_t)
-> both stages -> S x S, with network ``T`` (the frozen caption encoder and a bank of training
captions' phi_t, gankit.text.embed.encoder_network) as its text condition. Preview rows: per
fixed caption, stage I (nearest-enlarged) and stage II of the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.losses import d_probabilities
from gankit.networks import build_network
from gankit.networks.conditional import LatentLayout
from gankit.networks.dcgan import dcgan_levels
from gankit.networks.stackgan import kl_to_standard_normal
from gankit.nn.modes import evaluating
from gankit.presets import register_preset
from gankit.text.embed import encoder_network
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant, square_images

PREVIEW_COLUMNS = 8  # noise vectors per preview row
PREVIEW_CAPTIONS = 10  # fixed captions, one per class where the data has labels


@VARIANT_OPTIONS.register("stackgan")
@dataclass
class StackGANOptions:
    stage1_steps: int | None = None  # steps of stage I before stage II starts
    stage1_fraction: float = 0.5  # used when stage1_steps is unset: of train.steps
    conditioning_augmentation: bool = True  # off: c^ = mu(phi_t), no noise, no KL term
    kl_weight: float = 1.0  # lambda of Eq. 3 and 5
    c_dim: int = 16  # N_g, each CA's c^ (128 in the paper)
    text_code: int = 16  # N_d, phi_t compressed inside each D (128 in the paper)
    res_blocks: int = 2  # residual blocks of stage-II G
    matching_aware: bool = True  # real image + mismatched caption is a fake pair
    caption_draws: int = 1  # phi(t) per item per step: step_text (0: the fixed caption)

    def validate(self) -> None:
        check_caption_draws(self.caption_draws)
        if self.stage1_steps is not None and self.stage1_steps < 0:
            raise ConfigError(f"options.stage1_steps={self.stage1_steps} must be >= 0.")
        if not 0.0 <= self.stage1_fraction <= 1.0:
            raise ConfigError(f"options.stage1_fraction={self.stage1_fraction}: use [0, 1].")
        if not self.kl_weight >= 0:
            raise ConfigError(f"options.kl_weight={self.kl_weight} must be >= 0.")
        if self.c_dim < 1 or self.text_code < 1 or self.res_blocks < 0:
            raise ConfigError(
                "options.c_dim and options.text_code must be >= 1, options.res_blocks >= 0 "
                "(e.g. c_dim=16 text_code=16 res_blocks=2)."
            )


def text_dim(data: Any) -> int:
    """E, the length of the data's caption embeddings; a ConfigError for data without them."""
    text = data.fields.get("text")
    if text is None or text.ndim != 2:
        raise ConfigError(
            f"stackgan needs captioned images (a field text); dataset {data.name!r} has "
            f"{', '.join(data.field_names)}. Use data.name=fashion-captions or caption-folder."
        )
    return int(text.shape[1])


def check_caption_draws(draws: int) -> None:
    if draws < 0:
        raise ConfigError(
            f"options.caption_draws={draws} must be >= 0 (0: each image's fixed caption; "
            "1: one of its captions at random each step; k: the mean of k of them)."
        )


def step_text(ctx: StepContext, draws: int) -> Tensor:
    """The caption embeddings one update trains on, (B, E). Each image has several captions
    (the data's field ``texts``, (B, K, E)); every step draws ``draws`` of them per image
    from the run's saved noise stream (so resume stays exact) and takes their mean, as the
    StackGAN authors' loader averages 4 random captions of 10 per image (``draws`` = 4;
    Reed et al. 2016 Sec. 5 likewise draw an image's caption at random). ``draws`` = 0, or
    data with one embedding per image (no ``texts``), uses the fixed caption, field ``text``."""
    if draws == 0 or "texts" not in ctx.batch:
        return ctx["text"]
    texts = ctx["texts"]
    pick = torch.randint(
        texts.shape[1], (texts.shape[0], draws), generator=ctx.rng, device=ctx.rng.device
    ).to(texts.device)
    return texts.gather(1, pick[..., None].expand(-1, -1, texts.shape[2])).mean(1)


def mismatched(text: Tensor) -> Tensor:
    """Each item's caption embedding replaced by the next item's (the last takes the first)."""
    return text.roll(1, 0)


def matching_aware_d_terms(ctx, adv, D, real, fake, text, name, matching_aware):
    """D's loss on (real, text) against (fake, text) and, matching-aware (Reed et al. 2016,
    Algorithm 1, GAN-CLS), (real, wrong text) among the fakes; penalties (GP, R1) judge the
    images under their own captions. Shared by gan-int-cls and both stackgan stages."""
    real_in, fake_in = adv.noisy(real, ctx), adv.noisy(fake, ctx)
    real_logits, fake_logits = D(real_in, text), D(fake_in, text)
    adv.log_outputs(ctx, real_logits, fake_logits)
    if matching_aware:
        wrong = D(real_in, mismatched(text))
        what = "D" if adv.family.probabilistic else "critic"
        score = d_probabilities(wrong) if adv.family.probabilistic else wrong.mean()
        ctx.log(f"{what}{adv.prefix}(x, wrong text)", score)
        fake_logits = torch.cat([fake_logits, wrong])
    return adv.d_terms(
        ctx, real_logits, fake_logits, lambda x: D(x, text), real_in, fake_in, (name, D)
    )


@VARIANTS.register("stackgan")
class StackGAN(Variant):
    name = "stackgan"
    ema_modules = ("G1", "G2")

    def _setup(self, cfg: Config, data: Any) -> None:
        o, m = cfg.options, cfg.model
        self.channels, self.side = square_images(data, "stackgan", "Use fashion-captions.")
        if self.side % 4:
            raise ConfigError(
                f"stackgan needs an image side divisible by 4 (stage I draws half of it), "
                f"got {self.side}; set data.image_size (e.g. 28, 32 or 64)."
            )
        dcgan_levels(self.side // 2)  # a ConfigError naming the sides that work
        self.text_dim = text_dim(data)
        self.z1 = m.z_dim - 2 * o.c_dim  # N_z; the rest are the two CAs' epsilons
        if self.z1 < 1:
            raise ConfigError(
                f"model.z_dim={m.z_dim} must exceed 2 * options.c_dim = {2 * o.c_dim}: the "
                "noise is [z, eps_0, eps_1]; raise model.z_dim or lower options.c_dim."
            )
        if m.prior != "normal":
            raise ConfigError(
                f"stackgan needs model.prior=normal (the CA's eps ~ N(0, I) are part of the "
                f"noise), got {m.prior!r}."
            )

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        self._setup(cfg, data)
        o, m, C, S, E = cfg.options, cfg.model, self.channels, self.side, self.text_dim
        k = tricks.discriminator_options(cfg)
        if set(k) - {"spectral_norm"}:
            raise ConfigError(
                f"tricks {', '.join(sorted(set(k) - {'spectral_norm'}))} are not supported by "
                "train.variant=stackgan; drop them (tricks.spectral_norm is)."
            )
        ca = {"c_dim": o.c_dim, "augment": o.conditioning_augmentation}
        d = {"text_dim": E, "channels": C, "width": m.d_channels, "text_code": o.text_code, **k}
        return {
            "G1": build_network(
                "stackgan_g1", noise_dim=self.z1, text_dim=E, image_size=S // 2, channels=C,
                width=m.g_channels, **ca,
            ),
            "D1": build_network("stackgan_d", image_size=S // 2, **d),
            "G2": build_network(
                "stackgan_g2", text_dim=E, image_size=S, channels=C, width=m.g_channels,
                res_blocks=o.res_blocks, **ca,
            ),
            "D2": build_network("stackgan_d", image_size=S, **d),
            "T": encoder_network(data),  # frozen: the caption encoder, for --text
        }  # fmt: skip

    def network_families(self, nets: dict[str, nn.Module]) -> dict[str, str]:
        return {"generator": "stackgan", "discriminator": "stackgan"}

    def switch_step(self, cfg: Config) -> int:
        """The first stage-II step (read when called: --epochs sets train.steps later)."""
        o = cfg.options
        if o.stage1_steps is not None:
            return o.stage1_steps
        return int(round(o.stage1_fraction * cfg.train.steps))

    # --- the two games ------------------------------------------------------------------------
    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o, k = cfg.train, cfg.options, cfg.tricks
        if k.feature_matching or k.unrolled_steps:
            raise ConfigError("stackgan does not take tricks.feature_matching or unrolled_steps.")
        G1, D1, G2, D2 = (nets[n] for n in ("G1", "D1", "G2", "D2"))
        tricks.check_tricks(cfg, D1, G1, names=("D1", "G1"))
        self.history = tricks.history_from(cfg)
        adv1 = tricks.AdversarialTerms.from_config(cfg, self.history, prefix="_1")
        adv2 = tricks.AdversarialTerms.from_config(cfg, self.history, prefix="_2")
        dims = [self.z1, o.c_dim, o.c_dim]

        def noise(ctx: StepContext) -> tuple[Tensor, ...]:
            return ctx.sample_z(ctx.batch_size).split(dims, 1)  # z, eps_0, eps_1

        def kl(name: str, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
            if not o.conditioning_augmentation:
                return {}
            return {f"g_{name}_kl": o.kl_weight * kl_to_standard_normal(mu, logvar)}

        def stage1(ctx: StepContext, text: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
            z, eps0, eps1 = noise(ctx)
            return G1(z, text, eps0), eps1

        def d1_loss(ctx: StepContext) -> dict[str, Tensor]:
            text = step_text(ctx, o.caption_draws)
            with torch.no_grad():
                fake = stage1(ctx, text)[0][0]
            real = F.avg_pool2d(ctx.real, 2)  # I_0: the real image at stage I's size
            return matching_aware_d_terms(ctx, adv1, D1, real, fake, text, "D1", o.matching_aware)

        def g1_loss(ctx: StepContext) -> dict[str, Tensor]:
            text = step_text(ctx, o.caption_draws)
            (fake, mu, logvar), _ = stage1(ctx, text)
            terms = adv1.g_terms(ctx, D1(adv1.noisy(fake, ctx), text), ("G1", G1))
            return {**terms, **kl("1", mu, logvar)}

        def stage2(ctx: StepContext, text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            with torch.no_grad(), evaluating(G1):  # G_0 fixed, BN statistics included
                (s0, _, _), eps1 = stage1(ctx, text)
            return G2(s0, text, eps1)

        def d2_loss(ctx: StepContext) -> dict[str, Tensor]:
            text = step_text(ctx, o.caption_draws)
            with torch.no_grad():
                fake = stage2(ctx, text)[0]
            return matching_aware_d_terms(
                ctx, adv2, D2, ctx.real, fake, text, "D2", o.matching_aware
            )

        def g2_loss(ctx: StepContext) -> dict[str, Tensor]:
            text = step_text(ctx, o.caption_draws)
            fake, mu, logvar = stage2(ctx, text)
            terms = adv2.g_terms(ctx, D2(adv2.noisy(fake, ctx), text), ("G2", G2))
            return {**terms, **kl("2", mu, logvar)}

        def first(s: int) -> bool:
            return s < self.switch_step(cfg)

        def second(s: int) -> bool:
            return s >= self.switch_step(cfg)

        b, r = (t.beta1, t.beta2), t.d_steps
        return [
            Phase("D1", ["D1"], d1_loss, lr=t.lr_d, betas=b, repeat=r, when=first),
            Phase("G1", ["G1"], g1_loss, lr=t.lr_g, betas=b, when=first),
            Phase("D2", ["D2"], d2_loss, lr=t.lr_d, betas=b, repeat=r, when=second),
            Phase("G2", ["G2"], g2_loss, lr=t.lr_g, betas=b, when=second),
        ]

    # --- what the run offers ----------------------------------------------------------------
    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        self._setup(cfg, data)
        S = self.side
        return {
            "sample": Export(
                "stackgan",
                "sample",
                input={"kind": "noise", "shape": [cfg.model.z_dim]},
                output={"kind": data.kind, "shape": list(data.shape)},
                layout=LatentLayout(cfg.model.z_dim).to_meta(),
                composite="stackgan",  # gankit.networks.stackgan.StackGANSampler
                parts={"stage1": "G1", "stage2": "G2"},
                condition={"kind": "text", "encoder": "T"},
                description=f"StackGAN: caption -> stage I {S // 2}x{S // 2} -> stage II {S}x{S}",
            )
        }

    def discriminate(self, nets: dict[str, nn.Module], x: Tensor) -> Tensor:
        raise ConfigError("stackgan's discriminators judge (image, caption) pairs, not images.")

    def preview(self, p: Any) -> None:
        """Rows per fixed caption: stage I's images (nearest-enlarged to S x S), then stage
        II's, from the same PREVIEW_COLUMNS noise vectors."""
        sampler = p.model("sample")
        if sampler is None:
            return
        texts = preview_texts(p.data).to(p.device)
        z = p.fixed_z[:PREVIEW_COLUMNS]
        rows = []
        with torch.no_grad(), evaluating(sampler):
            for t in texts:
                s0, image = sampler.stages(z, t.expand(len(z), -1))
                rows += [F.interpolate(s0, size=image.shape[-2:], mode="nearest"), image]
        p.image_grid(torch.cat(rows).float().cpu(), nrow=len(z))


def preview_texts(data: Any) -> Tensor:
    """The caption embeddings of the preview rows: the first item of each class (of the first
    items where the data has no labels), at most PREVIEW_CAPTIONS."""
    text = data.fields["text"]
    if data.y is None:
        return text[:PREVIEW_CAPTIONS]
    firsts = [int(idx[0]) for c in range(int(data.y.max()) + 1)
              if len(idx := (data.y == c).nonzero().flatten())]  # fmt: skip
    return text[firsts[:PREVIEW_CAPTIONS]]


# Sized for 2 CPU cores (measured on one thread): stage I ~0.08 s a step, stage II ~0.2 s
# (batch 32, widths 32); 2000 + 2000 steps.
_FASHION = {
    "train.variant": "stackgan",
    "model.z_dim": 64,  # z of 32 values, then eps_0 and eps_1 of options.c_dim = 16 each
    "model.g_channels": 32,
    "model.d_channels": 32,
    # lambda: the exact KL (summed over N_g) at the paper's weight 1 held the condition back
    # in a 1000-step stage-I pilot (a stand-in class embedding, seed 0: the domain classifier
    # named the caption's class in 27% of samples, 52% at 0.1, 58% at 0.02, 67% without CA);
    # (the authors' released code takes the KL's mean over the N_g dimensions, not its sum:
    # their weight, divided by N_g, in this scale)
    "options.kl_weight": 0.02,
    "train.batch_size": 32,
    "train.lr_g": 2e-4,  # Sec. 3.4: Adam, 0.0002, batch 64
    "train.lr_d": 2e-4,
    "train.ema": 0.995,
    "train.steps": 4000,
    "log.sample_every": 500,
    "log.checkpoint_every": 1000,
}
register_preset(
    "stackgan-digits",
    "StackGAN on scikit-learn's digits with captions ('a thick seven'): stage I 8x8, stage II "
    "16x16; small and quick (the contract suite trains it)",
    {**_FASHION, "data.name": "digits-captions", "data.image_size": 16, "train.steps": 2000},
)
register_preset(
    "stackgan-fashion",
    "StackGAN on Fashion-MNIST captions: stage I 14x14, then stage II 28x28 (stage I frozen); "
    'sample with --text "a dark ankle boot"',
    {**_FASHION, "data.name": "fashion-captions"},
)
register_preset(
    "stackgan-folder",
    "StackGAN on your captioned images: data.root=DIR with NAME.txt captions or captions.jsonl "
    "(docs/text-to-image.md); data.image_size=32 resizes",
    {**_FASHION, "data.name": "caption-folder", "data.image_size": 32},
)
