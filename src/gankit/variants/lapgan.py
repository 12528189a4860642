"""Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a Laplacian
Pyramid of Adversarial Networks" (LAPGAN).

An image I is split into a Laplacian pyramid (gankit.nn.pyramid, Sec. 3): I_0 = I,
I_{k+1} = d(I_k) (2x2 average pooling), and the band-pass residuals h_k = I_k - u(I_{k+1})
(bilinear u), e.g. 28 -> 14 -> 7 for Fashion-MNIST (``options.levels``). One GAN per level:

* level K, the coarsest: a plain GAN, G_K(z_K) against D_K(I_K) on the smallest images;
* level k < K: a conditional GAN on residuals (Sec. 3.1). With l_k = u(I_{k+1}) the
  upsampled coarser image, G_k(z_k, l_k) makes h~_k and D_k judges the residual together with
  l_k: real h_k of a real image against G_k's, both on the same real l_k.

Training (Sec. 3.2) conditions every level on real downsampled images, so the levels do not
depend on each other and train as separate phases ``D<k>`` / ``G<k>`` (k = 0 the finest),
each with its own tricks.AdversarialTerms (terms ``d_<k>_adv``, ``g_<k>_adv``; instance
noise, label smoothing, DiffAugment, penalties apply per level). ``options.schedule``:

* ``joint`` (default): every level's D and G update at every step. As the levels are
  independent this is the same as training them one after another with the same number of
  updates, but every preview shows all levels improving, and a run stopped early has all of
  them partly trained rather than the finest untouched;
* ``turns``: the levels train one at a time, coarsest first, each for an equal stretch of
  train.steps (the paper's "each level trained independently", one level per machine).

Sampling runs coarse to fine (Sec. 3, Eq. 3): I~_K = G_K(z_K), I~_k = u(I~_{k+1}) +
G_k(z_k, u(I~_{k+1})), exported as one model: the ``lapgan`` composite of all G_k
(gankit.networks.lapgan), whose z of model.z_dim is [z_K, z_{K-1}, ..., z_0]: each finer
level takes ``options.level_z`` values and the coarsest the rest. ``options.conditional``
feeds the class label to every G_k and D_k (the class-conditional model of Sec. 4), so
`gankit sample --label` works. The preview draws the sample grid and, beside it,
``samples/levels_*.png``: per level the coarse samples, the upsampled input l_k, the
residual h~_k and the image I~_k, all at the final size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import tricks, viz
from gankit.config import VARIANT_OPTIONS, Config
from gankit.data.images import from_unit_range
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.networks.conditional import LatentLayout
from gankit.nn.modes import evaluating
from gankit.nn.pyramid import gaussian_pyramid, pyramid_sizes, upsample
from gankit.presets import register_preset
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant, square_images
from gankit.variants.cgan import require_labels

SCHEDULES = ("joint", "turns")
PREVIEW_COLUMNS = 8  # fixed samples shown per row of the levels picture


@VARIANT_OPTIONS.register("lapgan")
@dataclass
class LAPGANOptions:
    levels: int = 0  # pyramid levels with the coarsest; 0: halve down to a side of 7 to 13
    level_z: int = 16  # noise values of each finer G_k; the coarsest G_K takes the rest of z
    g_layers: int = 3  # hidden 3x3 conv layers of each finer G_k (width model.g_channels)
    d_layers: int = 2  # stride-2 conv layers of each finer D_k (width model.d_channels)
    conditional: bool = False  # the class label to every G_k and D_k (needs labelled data)
    schedule: str = "joint"  # joint: all levels every step; turns: one level at a time

    def validate(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"options.schedule={self.schedule!r}; valid: joint, turns.")
        if self.levels == 1 or self.levels < 0:
            raise ConfigError(
                f"options.levels={self.levels}: a pyramid needs 2 or more levels (0: automatic)."
            )
        if self.level_z < 1 or self.g_layers < 1 or self.d_layers < 1:
            raise ConfigError(
                "options.level_z, options.g_layers and options.d_layers must be >= 1 "
                "(e.g. level_z=16 g_layers=3 d_layers=2)."
            )


def coarse_z(cfg: Config, levels: int) -> int:
    """z_K's length: model.z_dim less level_z for each finer level; ConfigError if none left."""
    rest = cfg.model.z_dim - (levels - 1) * cfg.options.level_z
    if rest < 1:
        raise ConfigError(
            f"model.z_dim={cfg.model.z_dim} leaves no noise for the coarsest level after "
            f"{levels - 1} finer levels of options.level_z={cfg.options.level_z}; raise "
            "model.z_dim or lower options.level_z."
        )
    return rest


@VARIANTS.register("lapgan")
class LAPGAN(Variant):
    name = "lapgan"

    def _setup(self, cfg: Config, data: Any) -> None:
        channels, side = square_images(data, "lapgan", "Use fashion-mnist, digits or a folder.")
        self.channels, self.sizes = channels, pyramid_sizes(side, cfg.options.levels)
        self.conditional = bool(cfg.options.conditional)  # `gankit sample --label`
        self.latent = self.layout(cfg, data)

    def layout(self, cfg: Config, data: Any) -> LatentLayout:
        if not cfg.options.conditional:
            return LatentLayout(cfg.model.z_dim)
        names = tuple(data.class_names or ())
        return LatentLayout(cfg.model.z_dim, require_labels(data, self.name), class_names=names)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        self._setup(cfg, data)
        m, o, C, K = cfg.model, cfg.options, self.channels, len(self.sizes) - 1
        classes = {"num_classes": self.latent.num_classes}
        spectral = {"spectral_norm": True} if cfg.tricks.spectral_norm else {}
        s = self.sizes[K]
        nets = {
            f"G{K}": build_network(
                "lapgan_coarse_g", noise_dim=coarse_z(cfg, K + 1), out_shape=[C, s, s],
                hidden=m.hidden, layers=m.layers, **classes,
            ),
            f"D{K}": build_network(
                "lapgan_coarse_d", in_shape=[C, s, s], hidden=m.hidden, layers=m.layers,
                **classes, **spectral,
            ),
        }  # fmt: skip
        norm = {"norm": m.d_norm} if m.d_norm != "batch" else {}
        for k in range(K):
            s = self.sizes[k]
            nets[f"G{k}"] = build_network(
                "lapgan_level_g", noise_dim=o.level_z, channels=C, side=s, width=m.g_channels,
                layers=o.g_layers, **classes,
            )  # fmt: skip
            nets[f"D{k}"] = build_network(
                "lapgan_level_d", channels=C, side=s, width=m.d_channels, layers=o.d_layers,
                **classes, **spectral, **norm,
            )  # fmt: skip
        self.ema_modules = tuple(f"G{k}" for k in range(K + 1))
        self.noise_dims = [nets[f"G{k}"].noise_dim for k in range(K + 1)]  # z_0 ... z_K
        return nets

    def network_families(self, nets: dict[str, nn.Module]) -> dict[str, str]:
        return {"generator": "lapgan", "discriminator": "lapgan"}

    # --- the game, level by level (Sec. 3.2) ------------------------------------------------
    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, K = cfg.train, len(self.sizes) - 1
        if cfg.tricks.unrolled_steps:
            raise ConfigError(
                "tricks.unrolled_steps is not supported by train.variant=lapgan; drop it."
            )
        self.history = tricks.history_from(cfg)
        betas, latent = (t.beta1, t.beta2), self.latent

        def noise(ctx: StepContext, k: int) -> Tensor:
            # the sampler's own z ~ p_z, split as it splits it: z_k has z_k's distribution
            return split_z(ctx.sample_z(ctx.batch_size), self.noise_dims)[k]

        def when(j: int):
            """In turns, level with position j (0 = coarsest) trains in stretch j of L."""
            if cfg.options.schedule == "joint":
                return None
            # train.steps is read when the step runs: --epochs sets it after phases()
            return lambda s: min(K, s * (K + 1) // max(1, cfg.train.steps)) == j

        phases = []
        for k in range(K, -1, -1):
            G, D = nets[f"G{k}"], nets[f"D{k}"]
            tricks.check_tricks(cfg, D, G, names=(f"D{k}", f"G{k}"))
            adv = tricks.AdversarialTerms.from_config(cfg, self.history, prefix=f"_{k}")
            d_loss, g_loss = (
                self._coarse_losses(k, G, D, adv, noise, latent)
                if k == K
                else self._level_losses(k, G, D, adv, noise, K + 1)
            )
            sched = {"when": when(K - k)}
            phases += [
                Phase(f"D{k}", [f"D{k}"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps,
                      **sched),
                Phase(f"G{k}", [f"G{k}"], g_loss, lr=t.lr_g, betas=betas, uses_data=k < K,
                      **sched),
            ]  # fmt: skip
        return phases

    def _coarse_losses(self, k, G, D, adv, noise, latent):
        """Level K: a plain GAN on I_K; fakes of a conditional run get labels ~ U{0..K-1}."""
        conditional = bool(latent.num_classes)
        levels = len(self.sizes)

        def fake(ctx: StepContext) -> tuple[Tensor, Tensor | None]:
            z = noise(ctx, k)
            y = latent.draw_labels(len(z), ctx.rng, z.device) if conditional else None
            return G(z, y), y

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            real, y_real = gaussian_pyramid(ctx.real, levels)[k], ctx.labels
            with torch.no_grad():
                fake_img, y_fake = fake(ctx)
            return self._d_terms(ctx, adv, D, real, fake_img, y_real if conditional else None,
                                 y_fake, f"D{k}")  # fmt: skip

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            fake_img, y = fake(ctx)
            return adv.g_terms(ctx, D(adv.noisy(fake_img, ctx), y), (f"G{k}", G))

        return d_loss, g_loss

    def _level_losses(self, k, G, D, adv, noise, levels):
        """Level k < K: G_k(z_k, l_k) -> h~_k, D_k judges (l_k + h, l_k) on a real l_k."""

        def pair(ctx: StepContext) -> tuple[Tensor, Tensor, Tensor | None]:
            g = gaussian_pyramid(ctx.real, levels)
            return g[k], upsample(g[k + 1]), ctx.labels if self.conditional else None

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            image, low, y = pair(ctx)
            with torch.no_grad():
                residual = G(noise(ctx, k), low, y)
            real = torch.cat([image, low], 1)  # l_k + h_k is I_k itself
            fake = torch.cat([low + residual, low], 1)
            return self._d_terms(ctx, adv, D, real, fake, y, y, f"D{k}")

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            _, low, y = pair(ctx)
            fake = torch.cat([low + G(noise(ctx, k), low, y), low], 1)
            return adv.g_terms(ctx, D(adv.noisy(fake, ctx), y), (f"G{k}", G))

        return d_loss, g_loss

    @staticmethod
    def _d_terms(ctx, adv, D, real, fake, y_real, y_fake, name) -> dict[str, Tensor]:
        real_in, fake_in = adv.noisy(real, ctx), adv.noisy(fake, ctx)
        real_logits, fake_logits = D(real_in, y_real), D(fake_in, y_fake)
        adv.log_outputs(ctx, real_logits, fake_logits)
        return adv.d_terms(
            ctx, real_logits, fake_logits, lambda x: D(x, y_real), real_in, fake_in, (name, D)
        )

    # --- what the run offers ----------------------------------------------------------------
    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        self._setup(cfg, data)
        levels, pyramid = len(self.sizes), " -> ".join(str(s) for s in reversed(self.sizes))
        return {
            "sample": Export(
                "lapgan",
                "sample",
                input={"kind": "noise", "shape": [cfg.model.z_dim]},
                output={"kind": data.kind, "shape": list(data.shape)},
                layout=self.latent.to_meta(),
                composite="lapgan",  # gankit.networks.lapgan.LaplacianSampler
                parts={f"level{k}": f"G{k}" for k in range(levels)},
                description=f"LAPGAN sampler, coarse to fine {pyramid}",
            )
        }

    def discriminate(self, nets: dict[str, nn.Module], x: Tensor) -> Tensor:
        return nets[f"D{len(self.sizes) - 1}"](x)

    def preview(self, p: Any) -> None:
        """The fixed-noise sample grid (``samples/step_*.png``) and the levels of its first
        samples (``samples/levels_*.png``, see :func:`levels_picture`)."""
        super().preview(p)
        sampler = p.model("sample")
        if sampler is None:
            return
        n = min(PREVIEW_COLUMNS, len(p.fixed_z))
        y = self.latent.grid_inputs(n, p.device).get("y")
        with torch.no_grad(), evaluating(sampler):
            picture = levels_picture(sampler.stages(p.fixed_z[:n], y))
        p.samples_dir.mkdir(exist_ok=True)
        viz.save_png(
            viz.image_grid(from_unit_range(picture).numpy(), nrow=n),
            p.samples_dir / f"levels_{p.step:08d}.png",
        )


def split_z(z: Tensor, dims: list[int]) -> list[Tensor]:
    """[z_0, ..., z_K] of z = [z_K, ..., z_0], as the exported sampler splits it; ``dims``
    the lengths of z_0 ... z_K."""
    return list(reversed(z.split(dims[::-1], 1)))


def levels_picture(stages: list[dict[str, Tensor]]) -> Tensor:
    """Rows of one picture, in [-1, 1] at the final size (nearest-neighbour enlarged): the
    coarsest samples I~_K, then per finer level l_k = u(I~_{k+1}), the residual h~_k (scaled
    by its largest magnitude in the row, grey = 0) and I~_k = l_k + h~_k."""
    side = stages[-1]["image"].shape[-1]

    def big(x: Tensor) -> Tensor:
        return F.interpolate(x.float().cpu(), size=(side, side), mode="nearest")

    rows = [big(stages[0]["image"])]
    for st in stages[1:]:
        residual = st["residual"] / st["residual"].abs().amax().clamp_min(1e-8)
        rows += [big(st["low"].clamp(-1, 1)), big(residual), big(st["image"])]
    return torch.cat(rows)


register_preset(
    "lapgan-fashion",
    "LAPGAN on Fashion-MNIST: a 7 -> 14 -> 28 pyramid, an MLP GAN at 7x7 and a conv GAN "
    "on each finer residual; ~9 CPU minutes",
    {
        "train.variant": "lapgan",
        "data.name": "fashion-mnist",
        "model.z_dim": 64,  # z_7 of 32 values, 16 for each of the 14 and 28 px levels
        "model.hidden": 512,
        "model.layers": 2,
        "model.g_channels": 32,
        "model.d_channels": 32,
        "train.batch_size": 32,
        "train.lr_g": 5e-4,
        "train.lr_d": 5e-4,
        "train.ema": 0.995,
        # 10 epochs (5 batches a step): 8.5 CPU minutes on one thread, domain FID 8.8 on 5000
        # samples (seed 0); 3000 steps gave 9.5 in 7.1 minutes, still falling (21.8 at step
        # 1000, 12.9 at 2000)
        "train.steps": 3750,
        "log.sample_every": 0,
        "log.checkpoint_every": 1000,
    },
)
register_preset(
    "lapgan-folder",
    "LAPGAN on your own RGB images, 32 px (32 -> 16 -> 8): --set data.root=DIR; "
    "data.image_size=64 makes 64 -> 32 -> 16 -> 8",
    {
        "train.variant": "lapgan",
        "data.name": "folder",
        "data.image_size": 32,
        "data.channels": 3,
        "model.z_dim": 128,
        "model.hidden": 1024,
        "model.layers": 2,
        "model.g_channels": 64,
        "model.d_channels": 64,
        "train.batch_size": 32,
        "train.lr_g": 2e-4,
        "train.lr_d": 2e-4,
        "train.ema": 0.999,
        "train.steps": 10000,
        "log.sample_every": 500,
        "log.checkpoint_every": 1000,
    },
)
