"""The tricks `gankit list` prints and docs/tricks.md explains: name, config keys, paper."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trick:
    keys: str  # the config keys that turn it on
    reference: str


# What `gankit list` prints and docs/tricks.md explains.
TRICKS: dict[str, Trick] = {
    "label_smoothing": Trick(
        "tricks.label_smoothing=0.1", "Salimans et al. 2016, Sec. 3.4 (one-sided)"
    ),
    "soft_labels": Trick("tricks.soft_labels=0.2", "Chintala et al. 2016, ganhacks #6"),
    "noisy_labels": Trick("tricks.label_flip=0.05", "Chintala et al. 2016, ganhacks #6"),
    "instance_noise": Trick(
        "tricks.instance_noise=0.1",
        "Sonderby et al. 2016; Arjovsky & Bottou 2017",
    ),
    "diffaugment": Trick(
        "tricks.diffaugment=color,translation,cutout",
        "Zhao et al. 2020 (the same differentiable T on real and fake, in D and G steps)",
    ),
    "minibatch_discrimination": Trick(
        "tricks.minibatch_disc=true", "Salimans et al. 2016, Sec. 3.2"
    ),
    "feature_matching": Trick("tricks.feature_matching=true", "Salimans et al. 2016, Sec. 3.1"),
    "historical_averaging": Trick(
        "tricks.historical_averaging=1e-3", "Salimans et al. 2016, Sec. 3.3"
    ),
    "virtual_batch_norm": Trick("tricks.vbn=64", "Salimans et al. 2016, Sec. 3.4"),
    "spectral_norm": Trick("tricks.spectral_norm=true", "Miyato et al. 2018"),
    "two_time_scale": Trick("train.lr_d=4e-4 train.lr_g=1e-4", "Heusel et al. 2017 (TTUR)"),
    "ema_generator": Trick("train.ema=0.999", "Yazici et al. 2019; Karras et al. 2018"),
    "pacgan": Trick("tricks.pack=4", "Lin et al. 2018"),
    "unrolled": Trick("tricks.unrolled_steps=5", "Metz et al. 2016"),
    "k_d_steps": Trick("train.d_steps=5", "Goodfellow et al. 2014, Algorithm 1"),
    "lr_decay": Trick("train.lr_decay=0.5", "linear decay to 0 over the last half"),
    "gradient_penalty": Trick("tricks.gp_weight=10", "Gulrajani et al. 2017"),
    "r1": Trick("tricks.r1_weight=10", "Mescheder et al. 2018"),
    "weight_clipping": Trick("train.loss=wgan tricks.clip_value=0.01", "Arjovsky et al. 2017"),
}
