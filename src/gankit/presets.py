"""Named starting configurations. Each is a set of overrides on the defaults of Config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gankit.config import Config, apply_overrides
from gankit.errors import ConfigError
from gankit.registry import close_matches


@dataclass(frozen=True)
class Preset:
    description: str
    overrides: dict[str, Any]


TOY = {  # the MLP game on 2-D toys; variants on toys start from it
    "train.variant": "gan",
    "model.z_dim": 2,
    "model.hidden": 128,
    "model.layers": 3,
    "train.batch_size": 256,
    "train.lr_g": 1e-3,
    "train.lr_d": 1e-3,
    "log.sample_every": 250,
    "log.stats_every": 50,
}
_DCGAN_28 = {
    "train.variant": "dcgan",
    "model.z_dim": 64,
    "model.g_channels": 64,
    "model.d_channels": 64,
    "train.batch_size": 128,
    "train.lr_g": 2e-4,
    "train.lr_d": 2e-4,
    "log.sample_every": 0,
    "log.checkpoint_every": 500,
}

# Conditional / structured-latent DCGANs (issue 5), sized for CPU minutes: widths 32, batch 64.
# n_fixed = 100 makes the progress grid 10 wide: one class (or code value) per column.
_COND_28 = {
    "model.generator": "dcgan",
    "model.discriminator": "dcgan",
    "model.z_dim": 64,
    "model.g_channels": 32,
    "model.d_channels": 32,
    "train.batch_size": 64,
    "train.lr_g": 2e-4,
    "train.lr_d": 2e-4,
    "log.n_fixed": 100,
    "log.sample_every": 0,
    "log.checkpoint_every": 1000,
}
_CGAN_28 = {**_COND_28, "train.variant": "cgan", "options.label_mode": "projection"}
_DIGITS_16 = {
    "data.name": "digits",
    "data.image_size": 16,
    "model.z_dim": 32,
    "log.sample_every": 250,
}
# Chen et al. 2016, Appendix C (MNIST): 62 noise dims, one 10-way and two U(-1, 1) codes,
# lambda = 1, learning rates 2e-4 for D and 1e-3 for G.
_INFOGAN_28 = {
    **_COND_28,
    "train.variant": "infogan",
    "model.z_dim": 62,
    "options.info_categorical": 10,
    "options.info_continuous": 2,
    "options.info_weight": 1.0,
    "train.lr_g": 1e-3,
}

PRESETS: dict[str, Preset] = {
    "toy-sine": Preset(
        "MLP GAN on x2 = sin(x1), x1 ~ U[0, 2pi] (lecture 002): 2 D steps, lr decay",
        # at TOY's plain settings G drifted off the curve (median |x2 - sin x1| 0.097, x1 up
        # to 9.4); with 2 D steps and the rates decayed over the last half: 0.0063, 0.0054,
        # 0.0079 on seeds 0-2, every 0.5-wide bin of [0, 2pi] filled (docs/benchmarks.md)
        {
            **TOY,
            "data.name": "sine",
            "train.steps": 3000,
            "train.d_steps": 2,
            "train.lr_decay": 0.5,
        },
    ),
    "toy-ring": Preset(
        "MLP GAN on 8 Gaussians on the unit circle (std 0.01)",
        {**TOY, "data.name": "ring", "train.steps": 3000},
    ),
    "toy-grid": Preset(
        "MLP GAN on 25 Gaussians on a 5x5 grid (std 0.05)",
        {**TOY, "data.name": "grid", "train.steps": 5000},
    ),
    "toy-spiral": Preset(
        "MLP GAN on a noisy 2-D spiral", {**TOY, "data.name": "spiral", "train.steps": 3000}
    ),
    # issue 4: a vanilla setting that collapses, for `gankit diagnose` and the mode benchmark
    "toy-ring-collapse": Preset(
        "vanilla GAN that collapses on the ring: 256-d latent, Adam 1e-4, batch 512",
        {
            **TOY,
            "data.name": "ring",
            "model.z_dim": 256,
            "model.layers": 2,
            "train.lr_g": 1e-4,
            "train.lr_d": 1e-4,
            "train.batch_size": 512,
            "train.steps": 3000,
        },
    ),
    # issue 4: at least 8/8 ring and 24/25 grid modes with 90% high-quality samples over seeds
    # 0-4 in a few CPU minutes (benchmarks/toy_modes.py, docs/benchmarks.md). On the ring (std
    # 0.01: a sample must land within 0.03 of a centre) the 2 D steps per G step do the work
    # (high-quality 95% over 5 seeds with or without the decay, 74% +- 21 with neither); the
    # decay alone reaches 89% +- 7.
    "toy-ring-best": Preset(
        "the best ring setting gankit found (docs/benchmarks.md): 2 D steps, lr decay",
        {
            **TOY,
            "data.name": "ring",
            "train.steps": 3000,
            "train.d_steps": 2,
            "train.lr_decay": 0.5,
        },
    ),
    # Instance noise (Sønderby et al. 2016) of std 0.5, a quarter of the grid spacing, smooths
    # D so that G's surplus mass flows to the modes it misses (25/25 modes on seeds 0-4; the
    # same preset without it: 22.2 +- 2.3). It is gone by step 8000, so that D resolves the
    # modes' std 0.05 again for 4000 steps (annealed over a whole run of 10000 steps it left
    # 88% high-quality samples), and the rates decay over the last half so that G's clusters
    # settle on the centres.
    "toy-grid-best": Preset(
        "the best grid setting gankit found (docs/benchmarks.md): instance noise, lr decay",
        {
            **TOY,
            "data.name": "grid",
            "train.steps": 12000,
            "train.lr_decay": 0.5,
            "tricks.instance_noise": 0.5,
            "tricks.instance_noise_steps": 8000,
        },
    ),
    "dcgan-digits": Preset(
        "DCGAN on scikit-learn's 8x8 digits upsampled to 16x16 (embedded data, CPU minutes)",
        {
            **_DCGAN_28,
            "data.name": "digits",
            "data.image_size": 16,
            "model.z_dim": 32,
            "model.g_channels": 32,
            "model.d_channels": 32,
            "train.batch_size": 64,
            "train.steps": 2000,
            "log.sample_every": 100,
        },
    ),
    "dcgan-fashion": Preset(
        "DCGAN on Fashion-MNIST 28x28 (widths 32, batch 32, Adam 5e-4, EMA): CPU minutes",
        # Chosen for equal CPU time against the textbook recipe (docs/benchmarks.md, "DCGAN
        # against the textbook loop"): on a CPU a step's cost grows with width^2 x batch, so
        # half widths and batch 32 make 6-8x more updates per CPU second than widths 64 /
        # batch 128, and the higher rate uses them (domain FID after 5 epochs: 4.2, against
        # 6.9 with the textbook's widths, batch and rate in gankit's loop, which also cost more
        # CPU time). The EMA is a small extra (4.27 without, 4.43 with 0.999: one seed each).
        {
            **_DCGAN_28,
            "data.name": "fashion-mnist",
            "model.g_channels": 32,
            "model.d_channels": 32,
            "train.batch_size": 32,
            "train.lr_g": 5e-4,
            "train.lr_d": 5e-4,
            "train.ema": 0.995,
            "train.steps": 9375,  # 5 epochs of 1875 batches
        },
    ),
    "dcgan-mnist": Preset(
        "DCGAN on MNIST 28x28", {**_DCGAN_28, "data.name": "mnist", "train.steps": 2340}
    ),
    "dcgan-folder": Preset(
        "DCGAN on your own folder of images: --set data.root=DIR (64x64 RGB by default)",
        {
            **_DCGAN_28,
            "data.name": "folder",
            "data.image_size": 64,
            "data.channels": 3,
            "train.batch_size": 64,
            "train.steps": 5000,
            "log.sample_every": 250,
        },
    ),
    "cgan-digits": Preset(
        "conditional DCGAN G(z|y), projection D, on the 8x8 digits at 16x16 (Mirza 2014)",
        {**_CGAN_28, **_DIGITS_16, "train.steps": 2000},
    ),
    "cgan-fashion": Preset(
        "conditional DCGAN G(z|y), projection D (Miyato 2018), Fashion-MNIST; ~6 CPU minutes",
        {**_CGAN_28, "data.name": "fashion-mnist", "train.steps": 6000},
    ),
    "cgan-mnist": Preset(
        "conditional DCGAN G(z|y), projection D, on MNIST 28x28",
        {**_CGAN_28, "data.name": "mnist", "train.steps": 6000},
    ),
    "cgan-folder": Preset(
        "conditional DCGAN on your labelled folder (one subfolder per class): --set data.root=DIR",
        {
            **_CGAN_28,
            "data.name": "folder",
            "data.image_size": 64,
            "data.channels": 3,
            "model.g_channels": 64,
            "model.d_channels": 64,
            "model.z_dim": 100,
            "train.steps": 5000,
            "log.sample_every": 250,
        },
    ),
    "acgan-fashion": Preset(
        "AC-GAN: class-conditional G, D with an auxiliary classifier (Odena 2017) and minibatch "
        "discrimination against within-class collapse, Fashion-MNIST",
        {
            **_COND_28,
            "train.variant": "acgan",
            "data.name": "fashion-mnist",
            "options.ac_fake_class": False,  # see variants/acgan.py: the fake half permuted labels
            # the class term alone lets G ignore z within each class; minibatch discrimination
            # in D's image-only body brings within-class diversity to cgan-fashion's, instance
            # noise halves the intra-class FID (docs/conditional.md, "AC-GAN on Fashion-MNIST")
            "tricks.minibatch_disc": True,
            "tricks.instance_noise": 0.1,
            "train.steps": 6000,
        },
    ),
    "infogan-fashion": Preset(
        "InfoGAN, no labels: 10-way + 2 continuous codes (Chen 2016), Fashion-MNIST",
        {**_INFOGAN_28, "data.name": "fashion-mnist", "train.steps": 6000},
    ),
    "infogan-digits": Preset(
        "InfoGAN, no labels: 10-way + 2 continuous codes, on the 8x8 digits at 16x16",
        # G's learning rate 2e-3 (the paper's 1e-3 doubled) and 6000 steps: chosen on pilot
        # runs scored by the code-class matching of docs/benchmarks.md (issue 5).
        {**_INFOGAN_28, **_DIGITS_16, "train.lr_g": 2e-3, "train.steps": 6000},
    ),
}


def register_preset(name: str, description: str, overrides: dict[str, Any]) -> None:
    """Add a preset; variants register theirs beside their own code (DESIGN: "presets may
    live beside their variant"). A name already taken is a programming error."""
    if name in PRESETS:
        raise ValueError(f"preset {name!r} is registered twice")
    PRESETS[name] = Preset(description, dict(overrides))


def preset_config(name: str, overrides: list[str] | dict[str, Any] | None = None) -> Config:
    """The config of preset ``name`` with ``overrides`` applied (strictly checked)."""
    if name not in PRESETS:
        raise ConfigError(
            f"unknown preset {name!r}.{close_matches(name, list(PRESETS))} "
            "Run `gankit list` to see the presets."
        )
    cfg = Config(preset=name)
    apply_overrides(cfg, PRESETS[name].overrides)
    apply_overrides(cfg, overrides)
    if cfg.data.name in ("folder", "array") and not cfg.data.root:
        raise ConfigError(
            f"preset {name!r} trains on your own data: add "
            "--set data.root=PATH (a folder of images or a .npy/.npz file)."
        )
    return cfg
