"""Image-to-image runs from the command line on users' folders: `gankit eval RUN` scores a
run on its test pairs, and `gankit apply` takes .npy, an image file and a folder, with one
clear line for each bad input (issue 15)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.test_cli import assert_one_line_error, run_cli

TINY = {
    "train.batch_size": 4, "log.progress": False, "log.sample_every": 0,
    "log.checkpoint_every": 2, "log.stats_every": 1, "diagnose.enabled": False,
    "eval.metrics": "", "log.n_fixed": 4,
}  # fmt: skip


def sets(d):
    return [a for k, v in d.items() for a in ("--set", f"{k}={v}")]


def _write(folder, images):
    folder.mkdir(parents=True)
    for i, im in enumerate(images):
        Image.fromarray(im).save(folder / f"{i:02d}.png")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from gankit.cli import main

    root = tmp_path_factory.mktemp("translation")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    _write(root / "paired" / "A", a)
    _write(root / "paired" / "B", 255 - a)  # the target: the negative of the input
    for name in ("trainA", "trainB", "testA", "testB"):
        _write(root / "unpaired" / name, rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8))
    for preset, data, name, more in (
        ("pix2pix-folder", root / "paired", "p2p", {}),
        ("cyclegan-folder", root / "unpaired", "cyc", {"options.d_layers": 2}),
    ):
        over = {**TINY, "data.root": data, "data.image_size": 16, **more}
        args = ["train", preset, "--out", root / name, "--steps", 2, *sets(over)]
        assert main([str(x) for x in args]) == 0
    return root


def test_eval_scores_a_paired_run_against_its_targets(runs, capsys):
    code, out, _ = run_cli(capsys, "eval", runs / "p2p", "--n", 8)
    assert code == 0
    got = json.loads(out)
    assert got["n"] == 8 and got["y_channel"] is True and got["extractor"] is None
    for k in ("psnr", "ssim", "input_psnr", "input_ssim"):
        assert isinstance(got[k], float)
    assert got["reference"].startswith("paired-folder")


def test_eval_scores_both_directions_and_the_cycle_of_cyclegan(runs, capsys):
    code, out, _ = run_cli(capsys, "eval", runs / "cyc", "--n", 6)
    assert code == 0
    got = json.loads(out)
    assert got["n"] == 6
    assert got["cycle_l1"] == pytest.approx((got["cycle_l1_a"] + got["cycle_l1_b"]) / 2)


def test_apply_takes_npy_an_image_and_a_folder(runs, tmp_path, capsys):
    x = np.random.default_rng(1).integers(0, 256, (3, 3, 16, 16), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    code, _, _ = run_cli(
        capsys, "apply", runs / "p2p", "--input", tmp_path / "x.npy", "--out", tmp_path / "y.npy"
    )
    assert code == 0 and np.load(tmp_path / "y.npy").shape == (3, 3, 16, 16)
    Image.fromarray(x[0].transpose(1, 2, 0)).save(tmp_path / "one.png")
    code, _, _ = run_cli(
        capsys, "apply", runs / "p2p", "--input", tmp_path / "one.png", "--out", tmp_path / "o.png"
    )
    assert code == 0 and Image.open(tmp_path / "o.png").size == (16, 16)
    code, out, _ = run_cli(
        capsys, "apply", runs / "cyc", "--input", runs / "unpaired" / "testB",
        "--out", tmp_path / "b2a", "--direction", "b2a",
    )  # fmt: skip
    assert code == 0 and "wrote 6" in out and len(list((tmp_path / "b2a").glob("*.png"))) == 6


def test_bad_inputs_are_one_line_each(runs, tmp_path, capsys):
    grey = np.zeros((2, 1, 16, 16), np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    code, _, err = run_cli(
        capsys, "apply", runs / "p2p", "--input", tmp_path / "grey.npy",
        "--out", tmp_path / "o.npy",
    )  # fmt: skip
    assert_one_line_error(code, err, "grey.npy", "(3, ")
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "tiny.png")
    code, _, err = run_cli(
        capsys, "apply", runs / "p2p", "--input", tmp_path / "tiny.png",
        "--out", tmp_path / "t.png",
    )  # fmt: skip
    assert_one_line_error(code, err, "tiny.png is 2x2", "at least")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(
        capsys, "apply", runs / "p2p", "--input", tmp_path / "empty", "--out", tmp_path / "e"
    )
    assert_one_line_error(code, err, "no PNG/JPEG images")
    code, _, err = run_cli(
        capsys, "apply", runs / "p2p", "--input", tmp_path / "grey.npy",
        "--out", tmp_path / "d.npy", "--direction", "b2a",
    )  # fmt: skip
    assert_one_line_error(code, err, "translates one way only")
    assert not any((tmp_path / n).exists() for n in ("o.npy", "t.png", "e", "d.npy"))


def test_train_suggests_apply_not_sample_for_translation_runs(runs):
    from gankit.cli.train import _next_steps

    for name in ("p2p", "cyc"):
        lines = _next_steps(runs / name)
        assert any(line.startswith(f"apply it with: gankit apply {runs / name}") for line in lines)
        assert not any("gankit sample" in line for line in lines)
    assert _next_steps(runs / "does-not-exist") == []
