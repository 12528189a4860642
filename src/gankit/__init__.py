"""gankit: train, evaluate, diagnose and apply Generative Adversarial Networks."""

import gankit.variants  # noqa: F401  (registers every variant and its options, VARIANT_OPTIONS)
from gankit.api import resume, sample, save_samples, train
from gankit.config import Config
from gankit.errors import GankitError
from gankit.presets import PRESETS, preset_config
from gankit.runs import RunDir, load_generator

__version__ = "0.1.0"
__all__ = [
    "Config",
    "GankitError",
    "PRESETS",
    "RunDir",
    "load_generator",
    "preset_config",
    "resume",
    "sample",
    "save_samples",
    "train",
]
