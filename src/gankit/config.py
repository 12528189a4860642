"""Typed run configuration: dataclass sections, strict ``key=value`` overrides, JSON round-trip.

A config is a tree of dataclasses. Overrides use dotted keys (``train.lr_g=1e-4``); a key that
does not exist is an error that suggests the closest valid keys, and a value that cannot be
read as the field's type names the expected type (DESIGN principle 4).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from gankit.errors import ConfigError
from gankit.registry import close_matches


@dataclass
class DataConfig:
    name: str = "ring"  # a registered dataset: ring, grid, sine, spiral, digits, fashion-mnist, ...
    root: str | None = None  # directory or file for folder/array data, or where IDX files live
    split: str = "train"
    image_size: int | None = None  # resize images to this side; None keeps the native size
    channels: int | None = None  # force 1 or 3 channels; None keeps the native count
    n_samples: int = 20000  # size of the sampled 2-D toy sets
    download: bool = False  # allow fetching MNIST / Fashion-MNIST (sha256-checked)


@dataclass
class ModelConfig:
    generator: str = "mlp"  # a registered generator network
    discriminator: str = "mlp"
    z_dim: int = 2
    prior: str = "normal"  # noise prior: normal, uniform or student_t (lecture 002)
    prior_df: float = 3.0  # degrees of freedom of the Student-t prior
    hidden: int = 128  # MLP width
    layers: int = 3  # MLP hidden layers
    g_channels: int = 64  # DCGAN generator width (ngf in Radford et al. 2015)
    d_channels: int = 64  # DCGAN discriminator width (ndf)


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
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms for bitwise reproducibility
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...


@dataclass
class LogConfig:
    stats_every: int = 50  # steps between stats.jsonl records
    sample_every: int = 0  # steps between sample grids; 0 means once per epoch
    checkpoint_every: int = 1000  # steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 3  # the last K checkpoints are kept
    n_fixed: int = 64  # size of the fixed noise batch drawn in every grid
    toy_frames: bool = True  # draw real vs generated points over D's contour for 2-D data
    progress: bool = True  # progress bar on stderr


@dataclass
class Config:
    preset: str = "custom"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        """Rebuild a config written by :meth:`to_dict`, with the same strict checks."""
        cfg = cls()
        for key, value in flatten(raw).items():
            set_value(cfg, key, value)
        return cfg


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
    """Every dotted key a config accepts (``train.lr_g``, ``data.name``, ...)."""
    return sorted(flatten(dataclasses.asdict(cfg or Config())))


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
    """Set one dotted key, checking that it exists and that the value has the right type."""
    parts = key.split(".")
    obj: Any = cfg
    for i, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(obj)]
        if part not in names:
            raise ConfigError(
                f"unknown config key {key!r}.{close_matches(key, all_keys(cfg))} "
                "Run `gankit list --keys` for all keys."
            )
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(getattr(obj, part)):
                raise ConfigError(f"{key!r} is a section; set one of its keys, e.g. {key}.name")
            setattr(obj, part, _convert(value, _field_type(obj, part), key))
        else:
            obj = getattr(obj, part)
            if not dataclasses.is_dataclass(obj):
                raise ConfigError(
                    f"unknown config key {key!r}: {'.'.join(parts[: i + 1])} is not a section."
                )


def apply_overrides(cfg: Config, overrides: list[str] | dict[str, Any] | None) -> Config:
    """Apply ``["train.lr_g=1e-4", ...]`` or ``{"train.lr_g": 1e-4}`` to ``cfg`` in place."""
    if not overrides:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else map(_split_pair, overrides)
    for key, value in items:
        set_value(cfg, key.strip(), value)
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
    if not 0.0 <= cfg.train.ema < 1.0:
        raise ConfigError(f"train.ema={cfg.train.ema} must be in [0, 1); 0.999 is typical.")
    if cfg.log.sample_every < 0:
        raise ConfigError("log.sample_every must be >= 0 (0 means once per epoch).")
    if cfg.model.prior not in ("normal", "uniform", "student_t"):
        raise ConfigError(f"model.prior={cfg.model.prior!r}; valid: normal, uniform, student_t.")
