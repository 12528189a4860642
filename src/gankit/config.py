"""Typed run configuration: dataclass sections, strict ``key=value`` overrides, JSON round-trip.

A config is a tree of dataclasses. Overrides use dotted keys (``train.lr_g=1e-4``); a key that
does not exist is an error that suggests the closest valid keys, and a value that cannot be
read as the field's type names the expected type (DESIGN principle 4).

The sections hold only what every run has. A variant declares its own typed options: a
dataclass registered in :data:`VARIANT_OPTIONS` under the variant's name (by the variant's
file, so this module never imports ``gankit.variants``), set as ``options.<field>`` and strict
like every other key. ``Config.options`` holds the active variant's options; changing
``train.variant`` starts them again from that variant's defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from gankit.errors import ConfigError
from gankit.registry import Registry, close_matches

# variant name -> the dataclass of its options; a variant not registered here has none
VARIANT_OPTIONS: Registry[type] = Registry("variant options")


@dataclass
class DataConfig:
    name: str = "ring"  # a registered dataset: ring, grid, sine, spiral, digits, fashion-mnist, ...
    root: str | None = None  # directory or file for folder/array data, or where IDX files live
    split: str = "train"
    image_size: int | None = None  # resize images to this side; None keeps the native size
    channels: int | None = None  # force 1 or 3 channels; None keeps the native count
    n_samples: int = 20000  # size of the sampled 2-D toy sets; cap on sr-folder's crops
    download: bool = False  # allow fetching MNIST / Fashion-MNIST (sha256-checked)


@dataclass
class ModelConfig:
    # the network families: "auto" takes the variant's own (recorded in config.json when the
    # run starts); cgan / acgan / infogan choose mlp (their auto) or dcgan
    generator: str = "auto"
    discriminator: str = "auto"
    z_dim: int = 2
    prior: str = "normal"  # noise prior: normal, uniform or student_t (lecture 002)
    prior_df: float = 3.0  # degrees of freedom of the Student-t prior
    hidden: int = 128  # MLP width
    layers: int = 3  # MLP hidden layers
    g_channels: int = 64  # DCGAN generator width (ngf in Radford et al. 2015)
    d_channels: int = 64  # DCGAN discriminator width (ndf)
    # normalisation of a DCGAN discriminator's hidden convs: batch (Radford et al.), layer or
    # none; a gradient penalty or R1 needs layer / none (Gulrajani et al. 2017, Sec. 4)
    d_norm: str = "batch"


@dataclass
class TrainConfig:
    variant: str = "gan"  # a registered variant (gan, dcgan, ...)
    steps: int = 3000  # generator steps in total (one step = k D updates + one G update)
    batch_size: int = 128
    d_steps: int = 1  # k in Goodfellow et al. 2014, Algorithm 1
    loss: str = "gan"  # adversarial loss family (see `gankit list`)
    g_loss: str = "nonsaturating"  # generator objective for loss=gan: nonsaturating or minimax
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5  # Adam betas as recommended by Radford et al. 2015
    beta2: float = 0.999
    ema: float = 0.0  # decay of an exponential moving average of G's weights; 0 turns it off
    lr_decay: float = 0.0  # last fraction of train.steps over which both lrs fall linearly to 0
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms for bitwise reproducibility
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...
    precision: str = "fp32"  # fp32, bf16 (autocast) or fp16 (autocast + loss scaling, CUDA)
    channels_last: bool = False  # NHWC memory layout for image networks and data
    compile: bool = False  # torch.compile the networks (inductor): slow first steps, then faster
    nan_policy: str = "stop"  # a NaN/Inf loss or gradient: stop, or rollback to a checkpoint
    nan_check: str = "auto"  # step (before each update), record (at stats/checkpoints), auto
    rollback_lr_factor: float = 0.5  # each rollback multiplies every learning rate by this
    max_rollbacks: int = 3  # rollbacks allowed in one training session before it stops


@dataclass
class LogConfig:
    stats_every: int = 50  # steps between stats.jsonl records
    sample_every: int = 0  # steps between sample grids; 0 means once per epoch
    checkpoint_every: int = 1000  # steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 3  # the last K checkpoints are kept
    n_fixed: int = 64  # size of the fixed noise batch drawn in every grid
    toy_frames: bool = True  # draw real vs generated points over D's contour for 2-D data
    progress: bool = True  # progress bar on stderr
    # also write TensorBoard event files to RUN/tensorboard (pip install "gankit[tensorboard]")
    tensorboard: bool = False


@dataclass
class EvalConfig:
    metrics: str = ""  # comma list written to metrics.jsonl during training (fid,kid,...); "" = off
    every: int = 0  # steps between evaluations (a multiple of log.stats_every); 0 = at the end
    n: int = 2000  # generated samples per evaluation (and reference items at most)
    extractor: str = "auto"  # auto, domain:DATASET, inception[:WEIGHTS], raw
    reference: str = ""  # "" = the run's dataset (test split where there is one), or a spec


@dataclass
class TricksConfig:
    """Stabilisation tricks (docs/tricks.md); each is off at its default."""

    label_smoothing: float = 0.0  # one-sided: real target 1 - s (Salimans et al. 2016, Sec. 3.4)
    soft_labels: float = 0.0  # targets ~ U[1 - w, 1] real, U[0, w] fake (Chintala et al. 2016)
    label_flip: float = 0.0  # probability that a D target is swapped (noisy labels)
    instance_noise: float = 0.0  # std of N(0, s^2) added to D's inputs (Sonderby et al. 2016)
    instance_noise_schedule: str = "linear"  # anneal to 0: linear, cosine or exponential
    instance_noise_steps: int = 0  # steps of the annealing; 0 = train.steps
    minibatch_disc: bool = False  # minibatch discrimination in D (Salimans et al. 2016, 3.2)
    mbd_kernels: int = 50  # its B: closeness features
    mbd_dims: int = 5  # its C: dimension of each closeness
    feature_matching: bool = False  # G matches D's mean features (Salimans et al. 2016, 3.1)
    historical_averaging: float = 0.0  # weight of ||theta - mean past theta||^2 (ibid., 3.3)
    vbn: int = 0  # virtual batch norm in G, reference batch size (ibid., 3.4); 0 = off
    spectral_norm: bool = False  # spectral normalisation of D (Miyato et al. 2018)
    sn_gain: float = 1.0  # K: a spectrally normalised D's logits times K, a K-Lipschitz D
    pack: int = 1  # PacGAN: D judges packs of m samples (Lin et al. 2018)
    unrolled_steps: int = 0  # G's loss looks K D-steps ahead (Metz et al. 2016)
    gp_weight: float | None = None  # gradient penalty lambda; None: 10 for wgan-gp, else off
    r1_weight: float = 0.0  # gamma of the R1 penalty on real data (Mescheder et al. 2018)
    clip_value: float | None = None  # WGAN weight clipping c; None: 0.01 for wgan, else off
    diffaugment: str = ""  # DiffAugment policy on every D input, e.g. "color,translation,cutout"


@dataclass
class DiagnoseConfig:
    """Live failure-mode diagnostics (gankit.training.diagnostics), checked at each record."""

    enabled: bool = True
    n_samples: int = 512  # generated samples per check (diversity, modes covered)
    patience: int = 3  # consecutive stats records a symptom must last before it is reported
    warmup: int = 500  # steps before mode_collapse and non_convergence are judged


@dataclass
class NoOptions:
    """The options of a variant that declares none."""


def options_class(variant: str) -> type:
    """The options dataclass of ``variant`` (:class:`NoOptions` when it registered none)."""
    return VARIANT_OPTIONS.get(variant) if variant in VARIANT_OPTIONS else NoOptions


def option_variants(name: str) -> list[str]:
    """The registered variants that have an option called ``name``, a variant before those
    whose options extend its own (cgan, acgan)."""
    have = [
        v
        for v in VARIANT_OPTIONS.names()
        if name in {f.name for f in dataclasses.fields(VARIANT_OPTIONS.get(v))}
    ]
    return sorted(have, key=lambda v: (len(VARIANT_OPTIONS.get(v).__mro__), v))


@dataclass
class Config:
    preset: str = "custom"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    diagnose: DiagnoseConfig = field(default_factory=DiagnoseConfig)
    # the options of train.variant (a VARIANT_OPTIONS dataclass); None: that variant's defaults
    options: Any = None

    def __post_init__(self) -> None:
        if self.options is None:
            self.options = options_class(self.train.variant)()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        """Rebuild a config written by :meth:`to_dict`, with the same strict checks.

        A config.json written before variants had their own options keeps their values under
        ``model`` / ``train`` (LEGACY_OPTION_KEYS); they move into ``options`` when the run's
        variant has that option and are dropped otherwise (every old config lists all of
        them, e.g. a gan run's unused ``model.label_mode``).
        """
        cfg = cls()
        flat = flatten(raw)
        variant = flat.get("train.variant", cfg.train.variant)
        have = {f.name for f in dataclasses.fields(options_class(str(variant)))}
        items = []
        for key, value in flat.items():
            name = LEGACY_OPTION_KEYS.get(key)
            if name is None:
                items.append((key, value))
            elif name in have and f"options.{name}" not in flat:
                items.append((f"options.{name}", value))
        for key, value in _variant_first(items):
            set_value(cfg, key, value)
        return cfg


# Keys that were global before each variant declared its own options: old key -> option name.
LEGACY_OPTION_KEYS = {
    "model.label_mode": "label_mode",
    "model.embed_dim": "embed_dim",
    "model.info_categorical": "info_categorical",
    "model.info_continuous": "info_continuous",
    "train.ac_weight": "ac_weight",
    "train.ac_fake_class": "ac_fake_class",
    "train.info_weight": "info_weight",
}


def _variant_first(items: typing.Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``train.variant`` before every other key: setting it resets ``options.*``, so a
    variant named after its options (in any order) must not wipe them."""
    items = [(k.strip(), v) for k, v in items]
    return sorted(items, key=lambda kv: kv[0] != "train.variant")  # stable: order otherwise kept


def flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def all_keys(cfg: Config | None = None) -> list[str]:
    """Every dotted key ``cfg`` accepts (``train.lr_g``, ``data.name``, ...), with the
    ``options.*`` keys of its variant (default config: train.variant=gan)."""
    return sorted(flatten(dataclasses.asdict(cfg or Config())))


def option_keys(variant: str) -> list[tuple[str, str, Any]]:
    """(key, type, default) of each option of ``variant``: ``("options.label_mode", "str",
    "embed")``, ...; empty for a variant without options."""
    cls = options_class(variant)
    hints = typing.get_type_hints(cls)
    defaults = cls()
    return [
        (f"options.{f.name}", _type_name(hints[f.name]), getattr(defaults, f.name))
        for f in dataclasses.fields(cls)
    ]


def _field_type(obj: Any, name: str) -> Any:
    return typing.get_type_hints(type(obj))[name]


def _type_name(tp: Any) -> str:
    args = typing.get_args(tp)
    if args:
        return " or ".join(_type_name(a) for a in args)
    return "none" if tp is type(None) else tp.__name__


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Read ``value`` (a string from the command line, or a JSON value) as type ``tp``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}={value!r} is not a valid {_type_name(tp)}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}={value!r} is not a bool; use true or false.")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} is not an int.")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).replace("_", ""))
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not an int; give a whole number.") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} is not a float.")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={value!r} is not a float; give a number.") from None
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}={value!r} is not a string.")
        return value
    raise ConfigError(f"{key}: unsupported config type {tp!r}")


def set_value(cfg: Config, key: str, value: Any) -> None:
    """Set one dotted key, checking that it exists and that the value has the right type.

    Setting ``train.variant`` to another variant resets ``options`` to its defaults.
    """
    if key in LEGACY_OPTION_KEYS:
        name = LEGACY_OPTION_KEYS[key]
        owners = " / ".join(option_variants(name)) or "the variants that have it"
        raise ConfigError(
            f"{key} moved to options.{name} (per-variant options of {owners}); "
            f"use --set options.{name}=..."
        )
    parts = key.split(".")
    obj: Any = cfg
    for i, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(obj)]
        if part not in names:
            if parts[0] == "options" and i == 1:
                raise ConfigError(_unknown_option(cfg, key))
            raise ConfigError(
                f"unknown config key {key!r}.{close_matches(key, all_keys(cfg))} "
                "Run `gankit list --keys` for all keys."
            )
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(getattr(obj, part)):
                raise ConfigError(f"{key!r} is a section; set one of its keys, e.g. {key}.name")
            old = getattr(obj, part)
            setattr(obj, part, _convert(value, _field_type(obj, part), key))
            if key == "train.variant" and cfg.train.variant != old:
                cfg.options = options_class(cfg.train.variant)()
        else:
            obj = getattr(obj, part)
            if not dataclasses.is_dataclass(obj):
                raise ConfigError(
                    f"unknown config key {key!r}: {'.'.join(parts[: i + 1])} is not a section."
                )


def _unknown_option(cfg: Config, key: str) -> str:
    """The error for ``options.<name>`` that the active variant does not have."""
    variant, name = cfg.train.variant, key.split(".", 1)[1]
    own = [k for k, _, _ in option_keys(variant)]
    owners = [v for v in option_variants(name) if v != variant]
    if owners:  # a real option, of another variant: say whose, not what it resembles
        hint = f" It is an option of {' / '.join(owners)}; set train.variant, or drop the key."
    else:
        # compared without the shared "options." prefix, which makes every key look close
        close = difflib.get_close_matches(name, [k.split(".", 1)[1] for k in own], 3, 0.5)
        found = ", ".join(repr(f"options.{c}") for c in close)
        hint = f" Did you mean {found}?" if close else ""
        hint = hint if own else " No variant has that option."
    if not own:
        return f"unknown config key {key!r}: train.variant={variant} has no options.{hint}"
    return (
        f"unknown config key {key!r}: not an option of train.variant={variant}.{hint} "
        f"{variant}'s options: {', '.join(own)}."
    )


def apply_overrides(cfg: Config, overrides: list[str] | dict[str, Any] | None) -> Config:
    """Apply ``["train.lr_g=1e-4", ...]`` or ``{"train.lr_g": 1e-4}`` to ``cfg`` in place.

    ``train.variant`` is applied first, wherever it is given, so that ``options.*`` keys are
    set on the options of the variant it names.
    """
    if not overrides:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else map(_split_pair, overrides)
    for key, value in _variant_first(items):
        set_value(cfg, key, value)
    validate(cfg)
    return cfg


def _split_pair(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r} must look like key=value, e.g. train.lr_g=1e-4")
    key, value = text.split("=", 1)
    return key, value


def validate(cfg: Config) -> None:
    """Range checks that types alone cannot express."""
    positive = {
        "train.steps": cfg.train.steps,
        "train.batch_size": cfg.train.batch_size,
        "train.d_steps": cfg.train.d_steps,
        "model.z_dim": cfg.model.z_dim,
        "log.stats_every": cfg.log.stats_every,
        "log.checkpoint_every": cfg.log.checkpoint_every,
        "log.keep_checkpoints": cfg.log.keep_checkpoints,
        "log.n_fixed": cfg.log.n_fixed,
        "data.n_samples": cfg.data.n_samples,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}={value} must be at least 1.")
    _validate_ranges(cfg)
    if not 0.0 <= cfg.train.ema < 1.0:
        raise ConfigError(f"train.ema={cfg.train.ema} must be in [0, 1); 0.999 is typical.")
    if cfg.log.sample_every < 0:
        raise ConfigError("log.sample_every must be >= 0 (0 means once per epoch).")
    if cfg.model.prior not in ("normal", "uniform", "student_t"):
        raise ConfigError(f"model.prior={cfg.model.prior!r}; valid: normal, uniform, student_t.")
    _validate_nan_policy(cfg)
    _validate_tricks(cfg)
    _validate_options(cfg)


def _validate_ranges(cfg: Config) -> None:
    """Values of the right type that no optimiser, network or loader accepts: refused here,
    before a run directory is written, with one line each."""
    t, m, e, d = cfg.train, cfg.model, cfg.eval, cfg.data
    for key, value in (("train.lr_g", t.lr_g), ("train.lr_d", t.lr_d)):
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{key}={value} must be a positive number; 2e-4 is typical.")
    for key, value in (("train.beta1", t.beta1), ("train.beta2", t.beta2)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{key}={value} must be in [0, 1); Adam's (0.5, 0.999) is typical.")
    if t.precision not in ("fp32", "bf16", "fp16"):
        raise ConfigError(f"train.precision={t.precision!r}; valid: fp32, bf16, fp16.")
    at_least_one = {
        "model.hidden": m.hidden,
        "model.layers": m.layers,
        "model.g_channels": m.g_channels,
        "model.d_channels": m.d_channels,
        "eval.n": e.n,
    }
    for key, value in at_least_one.items():
        if value < 1:
            raise ConfigError(f"{key}={value} must be at least 1.")
    if e.every < 0:
        raise ConfigError(f"eval.every={e.every} must be >= 0 (0 = at the end of training).")
    if not math.isfinite(m.prior_df) or m.prior_df <= 0:
        raise ConfigError(f"model.prior_df={m.prior_df} must be positive; 3 is typical.")
    if d.image_size is not None and d.image_size < 1:
        raise ConfigError(f"data.image_size={d.image_size} must be at least 1 (or none).")
    if m.d_norm not in ("batch", "layer", "none"):
        raise ConfigError(f"model.d_norm={m.d_norm!r}; valid: batch, layer, none.")
    if d.channels not in (None, 1, 3):
        raise ConfigError(f"data.channels={d.channels} must be 1, 3 or none (the native count).")


def _validate_options(cfg: Config) -> None:
    """The options belong to train.variant, and pass their own ``validate()`` if they have one."""
    want = options_class(cfg.train.variant)
    if type(cfg.options) is not want:
        raise ConfigError(
            f"config.options is a {type(cfg.options).__name__}, but train.variant="
            f"{cfg.train.variant} takes {want.__name__}; set train.variant through --set / "
            "apply_overrides, which resets the options to the new variant's defaults."
        )
    check = getattr(cfg.options, "validate", None)
    if check is not None:
        check()


def _validate_tricks(cfg: Config) -> None:
    """Ranges of the tricks and diagnose sections; combinations with losses are checked by
    gankit.training.tricks when training starts."""
    k, d = cfg.tricks, cfg.diagnose
    for key in ("label_smoothing", "soft_labels", "label_flip"):
        if not 0.0 <= getattr(k, key) < 0.5:
            raise ConfigError(
                f"tricks.{key}={getattr(k, key)} must be in [0, 0.5); 0.1 is typical."
            )
    nonneg = (
        "instance_noise",
        "historical_averaging",
        "r1_weight",
        "unrolled_steps",
        "vbn",
        "instance_noise_steps",
    )
    for key in nonneg:
        if getattr(k, key) < 0:
            raise ConfigError(f"tricks.{key}={getattr(k, key)} must be >= 0.")
    for key in ("gp_weight", "clip_value"):
        if getattr(k, key) is not None and getattr(k, key) < 0:
            raise ConfigError(f"tricks.{key}={getattr(k, key)} must be >= 0 (or none).")
    if k.instance_noise_schedule not in ("linear", "cosine", "exponential"):
        raise ConfigError(
            f"tricks.instance_noise_schedule={k.instance_noise_schedule!r}; "
            "valid: linear, cosine, exponential."
        )
    from gankit.tricks.diffaugment import parse_policy  # names checked before anything runs

    parse_policy(k.diffaugment)
    if k.mbd_kernels < 1 or k.mbd_dims < 1:
        raise ConfigError("tricks.mbd_kernels and tricks.mbd_dims must be at least 1.")
    if not 0.0 <= cfg.train.lr_decay <= 1.0:
        raise ConfigError(f"train.lr_decay={cfg.train.lr_decay} must be in [0, 1]; 0 = constant.")
    if k.pack < 1:
        raise ConfigError(f"tricks.pack={k.pack} must be at least 1 (1 = no packing).")
    if not (k.sn_gain > 0 and math.isfinite(k.sn_gain)):
        raise ConfigError(f"tricks.sn_gain={k.sn_gain} must be a positive number; 1 = off.")
    if k.sn_gain != 1.0 and not k.spectral_norm:
        raise ConfigError(
            f"tricks.sn_gain={k.sn_gain} scales a spectrally normalised D; set "
            "tricks.spectral_norm=true too (or drop tricks.sn_gain)."
        )
    if cfg.train.batch_size % k.pack:
        raise ConfigError(
            f"train.batch_size={cfg.train.batch_size} is not a multiple of tricks.pack={k.pack}; "
            "choose a batch size divisible by the pack degree."
        )
    if d.n_samples < 2 or d.patience < 1 or d.warmup < 0:
        raise ConfigError("diagnose.n_samples >= 2, diagnose.patience >= 1, diagnose.warmup >= 0.")
    from gankit.losses.compat import check_loss_tricks  # a trick with a loss it cannot serve

    check_loss_tricks(k, cfg.train.loss)


def _validate_nan_policy(cfg: Config) -> None:
    t = cfg.train
    if t.nan_policy not in ("stop", "rollback"):
        raise ConfigError(f"train.nan_policy={t.nan_policy!r}; valid: stop, rollback.")
    if t.nan_check not in ("auto", "step", "record"):
        raise ConfigError(f"train.nan_check={t.nan_check!r}; valid: auto, step, record.")
    # a factor of 1 would replay the same steps at the same rates, and diverge the same way
    if not 0.0 < t.rollback_lr_factor < 1.0:
        raise ConfigError(
            f"train.rollback_lr_factor={t.rollback_lr_factor} must be in (0, 1); 0.5 is typical."
        )
    if t.max_rollbacks < 0:
        raise ConfigError(f"train.max_rollbacks={t.max_rollbacks} must be >= 0.")
