import pytest

from gankit.config import Config, all_keys, apply_overrides
from gankit.errors import ConfigError
from gankit.presets import PRESETS, preset_config


def test_overrides_are_typed():
    cfg = apply_overrides(
        Config(),
        [
            "train.lr_g=1e-4",
            "train.steps=7",
            "train.deterministic=true",
            "data.image_size=32",
            "data.root=none",
        ],
    )
    assert cfg.train.lr_g == 1e-4 and cfg.train.steps == 7 and cfg.train.deterministic is True
    assert cfg.data.image_size == 32 and cfg.data.root is None


def test_unknown_key_suggests_close_match():
    with pytest.raises(ConfigError, match=r"unknown config key 'train.lr_gg'.*train.lr_g"):
        apply_overrides(Config(), ["train.lr_gg=1"])


def test_wrong_type_names_expected_type():
    with pytest.raises(ConfigError, match=r"train.steps='many' is not an int"):
        apply_overrides(Config(), ["train.steps=many"])
    with pytest.raises(ConfigError, match="not a bool"):
        apply_overrides(Config(), ["train.deterministic=maybe"])
    with pytest.raises(ConfigError, match="not a float"):
        apply_overrides(Config(), {"train.lr_d": "fast"})


def test_missing_equals_and_section_keys():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(Config(), ["train.steps"])
    with pytest.raises(ConfigError, match="is a section"):
        apply_overrides(Config(), ["train=3"])


def test_range_validation():
    with pytest.raises(ConfigError, match="train.batch_size=0 must be at least 1"):
        apply_overrides(Config(), ["train.batch_size=0"])
    with pytest.raises(ConfigError, match="train.ema"):
        apply_overrides(Config(), ["train.ema=1.5"])


def test_json_round_trip():
    cfg = preset_config("dcgan-digits", ["train.seed=5"])
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_every_preset_builds_and_unknown_preset_is_named():
    own_data = [
        n for n, p in PRESETS.items() if p.overrides.get("data.name") in ("folder", "array")
    ]
    for name in PRESETS:
        if name in own_data:
            with pytest.raises(ConfigError, match="data.root"):
                preset_config(name)
            continue
        assert preset_config(name).preset == name
    with pytest.raises(ConfigError, match="Did you mean 'toy-ring'"):
        preset_config("toy-rin")
    assert "dcgan-folder" in own_data


def test_all_keys_lists_dotted_keys():
    keys = all_keys()
    assert "train.d_steps" in keys and "data.name" in keys and "preset" in keys
