"""`gankit transfer`: the discriminator as a base model, fine-tuned beside the same network
from random weights (issue 18), on tiny digits runs."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.applications.transfer import (
    DiscriminatorClassifier,
    accuracy,
    draw_per_class,
    find_discriminator,
    fine_tune,
    load_base,
    transfer,
)
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.runs import load_network, run_networks
from tests.conftest import TINY_DCGAN, TINY_TOY
from tests.test_cli import assert_one_line_error, run_cli, sets

FAST = {"min_steps": 8, "epochs": 1}  # a few steps: enough to see every layer move


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    for preset, sets_, name in (
        ("dcgan-digits", TINY_DCGAN, "dcgan"),
        ("dcgan-digits", {**TINY_DCGAN, "tricks.pack": 2}, "packed"),
        ("toy-ring", TINY_TOY, "toy"),
    ):
        args = ["train", preset, "--out", root / name, "--steps", 6, *sets(sets_)]
        assert main([str(a) for a in args]) == 0
    return root


def _digits(split: str = "train", n: int = 200):
    d = load_dataset("digits", split=split, image_size=8, channels=1)
    return d.x[:n], d.y[:n]


def test_the_base_is_the_runs_discriminator_with_a_new_class_head(runs):
    run = runs / "dcgan"
    key, shape = find_discriminator(run)
    assert run_networks(run)[key] == "dcgan_d" and shape == [1, 8, 8]
    model = load_base(run, 10)
    trained = load_network(run, key, ema=False)
    # the trunk carries D's trained weights; D's own output layer is gone
    want = {f"trunk.{k}": v for k, v in trained.features.state_dict().items()}
    got = model.state_dict()
    assert set(got) == set(want) | {"head.weight", "head.bias"}
    assert all(torch.equal(got[k], v) for k, v in want.items())
    # the head reads the trunk's flattened output: 8 channels at 4x4 for an 8x8 image
    assert model.head.in_features == 8 * 4 * 4 and model.head.out_features == 10
    x, _ = _digits(n=5)
    assert model(x).shape == (5, 10)


def test_fine_tuning_changes_every_layer(runs):
    model = load_base(runs / "dcgan", 10)
    before = {k: v.clone() for k, v in model.named_parameters()}
    x, y = _digits()
    fine_tune(model, x, y, steps=5, seed=0)
    assert len(before) >= 4  # conv, conv, BatchNorm, head: weights (and biases)
    unchanged = [k for k, v in model.named_parameters() if torch.equal(v, before[k])]
    assert not unchanged, f"fine-tuning left {unchanged} as they were"
    assert not model.training


def test_scratch_is_the_same_architecture_with_fresh_seeded_weights(runs):
    run = runs / "dcgan"
    pre = load_base(run, 10, head_seed=7)
    a = load_base(run, 10, init_seed=7, head_seed=7)
    b = load_base(run, 10, init_seed=7, head_seed=7)
    c = load_base(run, 10, init_seed=8, head_seed=7)
    sp, sa, sb, sc = (m.state_dict() for m in (pre, a, b, c))
    assert {k: v.shape for k, v in sp.items()} == {k: v.shape for k, v in sa.items()}
    assert [type(m) for m in pre.modules()] == [type(m) for m in a.modules()]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # seeded
    conv = "trunk.0.weight"
    assert not torch.equal(sa[conv], sp[conv]) and not torch.equal(sa[conv], sc[conv])
    # the new head starts the same for both inits: only the body's weights differ
    assert torch.equal(sa["head.weight"], sp["head.weight"])


def test_the_same_seed_gives_the_same_accuracies(runs):
    run = runs / "dcgan"
    r1 = transfer(run, 5, draws=2, seed=3, **FAST)
    r2 = transfer(run, 5, draws=2, seed=3, **FAST)
    r3 = transfer(run, 5, draws=2, seed=4, **FAST)
    assert r1["results"] == r2["results"]
    assert r1["results"] != r3["results"]
    pre, scratch = r1["results"]["pretrained"], r1["results"]["scratch"]
    assert len(pre["accuracies"]) == 2 and pre["accuracies"] != scratch["accuracies"]
    assert r1["steps"] == 8 and r1["test_n"] == 359 and r1["head_input"] == 128
    assert r1["augment"] == {"shift": 0, "flip": False}  # 8 px: no shifts


def test_fine_tuning_learns_the_classes(runs):
    """Wiring check: labels, images and the head line up, so a few hundred steps on the 8x8
    digits beat chance (10%) by far (0.92 when written)."""
    model = load_base(runs / "dcgan", 10, init_seed=0)
    x, y = _digits(n=1000)
    fine_tune(model, x, y, steps=150, lr=3e-3, seed=0)  # no shifts at 8x8 (side // 14 = 0)
    assert accuracy(model, *_digits("test", 359)) > 0.8


def test_a_packing_discriminator_takes_single_images(runs):
    model = load_base(runs / "packed", 10)
    assert model.pack == 2 and model.trunk[0].in_channels == 2
    x, y = _digits(n=64)
    fine_tune(model, x, y, steps=2, seed=0)
    assert model(x[:3]).shape == (3, 10)


def test_draws_are_seeded_and_per_class():
    y = torch.arange(10).repeat(20).numpy()
    d1, d2 = draw_per_class(y, 4, 3, seed=1), draw_per_class(y, 4, 3, seed=1)
    assert all((a == b).all() for a, b in zip(d1, d2))
    assert all(sorted(y[d].tolist()) == sorted(list(range(10)) * 4) for d in d1)
    with pytest.raises(DataError, match="--labels-per-class 21 is more than"):
        draw_per_class(y, 21, 1, seed=0)
    with pytest.raises(ConfigError, match="at least 1"):
        draw_per_class(y, 0, 1, seed=0)


def test_images_of_the_wrong_size_are_one_error(runs):
    model = load_base(runs / "dcgan", 10)
    assert isinstance(model, DiscriminatorClassifier)
    x16 = load_dataset("digits", split="test", image_size=16).x[:4]
    with pytest.raises(
        DataError, match=r"shape \[1, 16, 16\]; the discriminator takes \[1, 8, 8\]"
    ):
        fine_tune(model, x16, torch.zeros(4, dtype=torch.long), steps=1)
    with pytest.raises(DataError, match="the discriminator takes"):
        accuracy(model, x16, torch.zeros(4))


def test_cli_prints_json_and_table(runs, capsys):
    code, out, _ = run_cli(
        capsys, "transfer", runs / "dcgan", "--labels-per-class", 3, "--draws", 2,
        "--min-steps", 4, "--epochs", 1, "--test-n", 100, "--quiet",
    )  # fmt: skip
    assert code == 0
    lines = out.strip().splitlines()
    report = json.loads(lines[0])
    assert report["labels_per_class"] == 3 and report["test_n"] == 100 and report["draws"] == 2
    assert lines[2].startswith("init") and lines[3].startswith("pretrained")
    assert lines[4].startswith("scratch") and lines[5].startswith("difference")


@pytest.mark.parametrize(
    "which, extra, needles",
    [
        ("toy", [], ("no convolutional discriminator",)),
        ("dcgan", ["--labels-per-class", 500], ("--labels-per-class 500 is more than",)),
        ("dcgan", ["--labels-per-class", 0], ("must be at least 1",)),
        ("dcgan", ["--test-n", 100000], ("--test-n must be",)),
        ("nowhere", [], ("nowhere",)),
    ],
)
def test_bad_inputs_are_one_line(runs, capsys, which, extra, needles):
    args = ["--labels-per-class", 2, *extra] if "--labels-per-class" not in extra else extra
    code, _, err = run_cli(capsys, "transfer", runs / which, *args, "--quiet")
    assert_one_line_error(code, err, *needles)
