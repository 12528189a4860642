import dataclasses
import json

import pytest

from gankit.config import Config, all_keys, apply_overrides, option_keys, validate
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


# --- per-variant options (issue 13) ---------------------------------------------------------
def test_options_are_the_active_variants_and_typed():
    cfg = apply_overrides(Config(), ["train.variant=acgan", "options.ac_weight=0.5"])
    assert type(cfg.options).__name__ == "ACGANOptions"
    assert cfg.options.ac_weight == 0.5 and cfg.options.label_mode == "embed"  # CGAN's options
    apply_overrides(cfg, ["options.ac_fake_class=false", "options.embed_dim=8"])
    assert cfg.options.ac_fake_class is False and cfg.options.embed_dim == 8
    assert Config().options == Config().options and not dataclasses.fields(Config().options)
    assert cfg.to_dict()["options"] == {
        "label_mode": "embed",
        "embed_dim": 8,
        "ac_weight": 0.5,
        "ac_fake_class": False,
        "twin_classifier": False,
    }
    assert not any(k.startswith("options.") for k in all_keys())  # gan has none
    assert "options.ac_weight" in all_keys(cfg)
    assert [k for k, _, _ in option_keys("infogan")] == [
        "options.info_categorical",
        "options.info_continuous",
        "options.info_weight",
    ]
    assert option_keys("gan") == []
    assert option_keys("cgan")[0] == ("options.label_mode", "str", "embed")


def test_option_type_and_range_errors():
    with pytest.raises(ConfigError, match=r"options.embed_dim='wide' is not an int"):
        apply_overrides(Config(), ["train.variant=cgan", "options.embed_dim=wide"])
    with pytest.raises(ConfigError, match="options.ac_fake_class='maybe' is not a bool"):
        apply_overrides(Config(), ["train.variant=acgan", "options.ac_fake_class=maybe"])
    with pytest.raises(ConfigError, match="options.label_mode='hot'; valid: embed, onehot"):
        apply_overrides(Config(), ["train.variant=acgan", "options.label_mode=hot"])
    with pytest.raises(ConfigError, match="options.info_categorical=1 must be 0"):
        apply_overrides(Config(), ["train.variant=infogan", "options.info_categorical=1"])
    with pytest.raises(ConfigError, match="options.ac_weight=-1.0 must be >= 0"):
        apply_overrides(Config(), ["train.variant=acgan", "options.ac_weight=-1"])
    with pytest.raises(ConfigError, match="'options' is a section"):
        apply_overrides(Config(), ["train.variant=cgan", "options=1"])


def test_unknown_option_names_the_variant_and_close_matches():
    with pytest.raises(ConfigError) as err:
        apply_overrides(Config(), ["train.variant=cgan", "options.label_mod=onehot"])
    msg = str(err.value)
    assert "'options.label_mod'" in msg and "train.variant=cgan" in msg
    assert "Did you mean 'options.label_mode'" in msg
    assert "cgan's options: options.label_mode, options.embed_dim" in msg
    # an option of another variant says whose it is
    with pytest.raises(ConfigError, match=r"not an option of train.variant=cgan.*of infogan"):
        apply_overrides(Config(), ["train.variant=cgan", "options.info_weight=2"])
    with pytest.raises(ConfigError, match=r"Did you mean 'options.info_weight'.*infogan's"):
        apply_overrides(Config(), ["train.variant=infogan", "options.info_wieght=2"])
    with pytest.raises(ConfigError, match=r"variant=cgan\. cgan's options: options.label_mode"):
        apply_overrides(Config(), ["train.variant=cgan", "options.zzz=2"])  # nothing close
    with pytest.raises(ConfigError, match="has no options. No variant has that option"):
        apply_overrides(Config(), ["options.zzz=2"])
    with pytest.raises(ConfigError) as err:  # whose option it is, not a look-alike of cgan's
        apply_overrides(Config(), ["train.variant=cgan", "options.info_weight=2"])
    assert "Did you mean" not in str(err.value)


def test_a_variant_without_options_rejects_every_option_key():
    for variant in ("gan", "dcgan"):
        for key in ("options.label_mode=onehot", "options.anything=1"):
            with pytest.raises(ConfigError, match=f"train.variant={variant} has no options"):
                apply_overrides(Config(), [f"train.variant={variant}", key])
    with pytest.raises(ConfigError, match=r"has no options\. It is an option of cgan / acgan;"):
        apply_overrides(Config(), ["options.label_mode=onehot"])  # default variant: gan


def test_variant_switch_resets_options():
    cfg = preset_config("cgan-digits")
    assert cfg.options.label_mode == "projection"  # the preset's choice
    apply_overrides(cfg, ["train.variant=cgan"])  # the same variant: options kept
    assert cfg.options.label_mode == "projection"
    apply_overrides(cfg, ["train.variant=acgan"])
    assert type(cfg.options).__name__ == "ACGANOptions" and cfg.options.label_mode == "embed"
    apply_overrides(cfg, ["train.variant=gan"])
    assert not dataclasses.fields(cfg.options)
    cfg = preset_config("infogan-digits", ["train.variant=cgan", "options.embed_dim=4"])
    assert cfg.options.embed_dim == 4 and not hasattr(cfg.options, "info_weight")


def test_variant_is_applied_before_options_in_any_order():
    want = apply_overrides(Config(), ["train.variant=infogan", "options.info_weight=2"])
    for over in (
        ["options.info_weight=2", "train.variant=infogan"],
        {"options.info_weight": 2.0, "train.variant": "infogan"},
        [" options.info_weight=2", " train.variant=infogan"],
    ):
        cfg = apply_overrides(Config(), over)
        assert cfg == want and cfg.options.info_weight == 2.0
    cfg = preset_config("toy-ring", ["options.ac_weight=0.25", "train.variant=acgan"])
    assert cfg.options.ac_weight == 0.25


def test_old_global_keys_say_where_they_moved():
    with pytest.raises(ConfigError) as err:
        apply_overrides(Config(), ["model.label_mode=onehot"])
    assert str(err.value) == (
        "model.label_mode moved to options.label_mode (per-variant options of cgan / acgan); "
        "use --set options.label_mode=..."
    )
    for key, owner in (
        ("model.embed_dim=4", "cgan / acgan"),
        ("train.ac_weight=0.5", "acgan"),
        ("train.ac_fake_class=false", "acgan"),
        ("model.info_categorical=4", "infogan"),
        ("model.info_continuous=1", "infogan"),
        ("train.info_weight=2", "infogan"),
    ):
        name = key.split("=")[0].split(".")[1]
        with pytest.raises(ConfigError, match=f"moved to options.{name} .*of {owner}\\)"):
            apply_overrides(Config(), ["train.variant=infogan", key])


def _legacy_dict(variant, **old):
    """A config.json as written before per-variant options: the old keys in model / train."""
    raw = Config().to_dict()
    del raw["options"]
    raw["train"]["variant"] = variant
    raw["model"].update(label_mode="embed", embed_dim=16, info_categorical=10, info_continuous=2)
    raw["train"].update(ac_weight=1.0, ac_fake_class=True, info_weight=1.0)
    for key, value in old.items():
        raw["model" if key in raw["model"] else "train"][key] = value
    return json.loads(json.dumps(raw))


def test_legacy_config_json_migrates_into_options():
    cfg = Config.from_dict(_legacy_dict("cgan", label_mode="projection", embed_dim=8))
    assert cfg.options.label_mode == "projection" and cfg.options.embed_dim == 8
    assert cfg == apply_overrides(
        Config(), ["train.variant=cgan", "options.label_mode=projection", "options.embed_dim=8"]
    )
    cfg = Config.from_dict(_legacy_dict("acgan", ac_fake_class=False, ac_weight=0.1))
    assert (cfg.options.ac_fake_class, cfg.options.ac_weight) == (False, 0.1)
    cfg = Config.from_dict(_legacy_dict("infogan", info_categorical=0, info_weight=2.0))
    assert (cfg.options.info_categorical, cfg.options.info_continuous) == (0, 2)
    assert cfg.options.info_weight == 2.0
    cfg = Config.from_dict(_legacy_dict("gan", label_mode="onehot"))  # unused old keys dropped
    assert cfg == Config()
    assert "label_mode" not in cfg.to_dict()["model"]


def test_new_config_json_round_trips_with_options(tmp_path):
    for name in ("cgan-digits", "acgan-fashion", "infogan-digits", "toy-ring"):
        cfg = preset_config(name, {"data.root": "x"} if "folder" in name else None)
        raw = json.loads(cfg.to_json())  # keys sorted: "options" comes before "train"
        assert list(raw).index("options") < list(raw).index("train")
        assert Config.from_dict(raw) == cfg
    with pytest.raises(ConfigError, match="not an option of train.variant=cgan"):
        Config.from_dict({"train": {"variant": "cgan"}, "options": {"info_weight": 1.0}})


def test_options_must_belong_to_the_variant():
    cfg = preset_config("cgan-digits")
    cfg.train.variant = "infogan"  # a direct edit, bypassing set_value
    with pytest.raises(ConfigError, match="set train.variant through --set"):
        validate(cfg)
