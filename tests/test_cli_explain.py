"""`gankit explain` (FIGAN walks) and `gankit classifier train`: the picture has the size its
grid asks for, class names resolve as words or indices, and every bad input is one line."""

from __future__ import annotations

import pytest
from PIL import Image

from gankit.applications.figan_walk import CELL, TEXT_H, resolve_class
from gankit.errors import RunError
from tests.test_cli import assert_one_line_error, run_cli, sets
from tests.variants.test_figan import TINY

FASHION = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


@pytest.fixture(scope="module")
def figan_run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.mktemp("explain")
    mp.setenv("GANKIT_CACHE", str(base / "cache"))
    from gankit.cli import main

    run = base / "run"
    assert main(["train", "figan-fashion", "--out", str(run), "--quiet", *sets(TINY)]) == 0
    yield run
    mp.undo()


def size(steps: int, rows: int, lines: int) -> tuple[int, int]:
    return (steps + 1) * (CELL + 4) + 4, 2 * TEXT_H + rows * (CELL + lines * TEXT_H + 4) + 4


def test_class_walk_writes_the_grid(capsys, tmp_path, figan_run):
    out = tmp_path / "walk.png"
    code, text, _ = run_cli(
        capsys,
        "explain",
        figan_run,
        "--from",
        "three",
        "--to",
        "8",
        "--steps",
        5,
        "--rows",
        3,
        "--out",
        out,
    )
    assert code != 0  # "three" is not a digits class name ...
    code, text, err = run_cli(
        capsys,
        "explain",
        figan_run,
        "--from",
        "3",
        "--to",
        "8",
        "--steps",
        5,
        "--rows",
        3,
        "--out",
        out,
    )
    assert code == 0, err
    assert "3 -> 8" in text and "mean target probability" in text
    with Image.open(out) as im:
        assert im.size == size(5, 3, 2)
        # the last column is the difference map: not blank (G changes along the walk)
        right = im.crop((5 * (CELL + 4) + 4, 2 * TEXT_H, im.size[0] - 4, 2 * TEXT_H + CELL))
        assert max(px[0] for px in right.getdata()) > 0


def test_component_walk(capsys, tmp_path, figan_run):
    out = tmp_path / "pc.png"
    code, text, err = run_cli(
        capsys, "explain", figan_run, "--pc", 1, "--steps", 4, "--rows", 2, "--out", out
    )
    assert code == 0, err
    with Image.open(out) as im:
        assert im.size == size(4, 2, 1)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--from", "eight", "--to", "3"], "unknown class 'eight'; valid classes"),
        (["--from", "3"], "give --from CLASS and --to CLASS"),
        (["--pc", "1", "--from", "3", "--to", "8"], "either --pc or --from and --to"),
        (["--pc", "4"], "--pc 4 does not exist; this run has components 0..3"),
        (["--pc", "0", "--steps", "1"], "--steps must be >= 2"),
        (["--pc", "0", "--rows", "0"], "--rows >= 1"),
    ],
)
def test_bad_inputs_are_one_line(capsys, tmp_path, figan_run, args, needle):
    out = tmp_path / "w.png"
    code, _, err = run_cli(capsys, "explain", figan_run, *args, "--out", out)
    assert_one_line_error(code, err, needle)
    assert not out.exists()


def test_bad_out_and_not_a_figan_run(capsys, tmp_path, figan_run):
    code, _, err = run_cli(capsys, "explain", figan_run, "--pc", 0, "--out", tmp_path / "w.jpg")
    assert_one_line_error(code, err, "use FILE.png")
    other = tmp_path / "dcgan"
    tiny = {"data.image_size": 8, "model.g_channels": 8, "model.d_channels": 8, "model.z_dim": 8}
    assert (
        run_cli(
            capsys, "train", "dcgan-digits", "--out", other, "--steps", 2, "--quiet", *sets(tiny)
        )[0]
        == 0
    )
    code, _, err = run_cli(capsys, "explain", other, "--pc", 0, "--out", tmp_path / "w.png")
    assert_one_line_error(code, err, "is not a figan run")


def test_class_names_as_words_or_indices():
    assert resolve_class("t-shirt", FASHION) == 0
    assert resolve_class("top", FASHION) == 0
    assert resolve_class("shirt", FASHION) == 6  # not T-shirt/top
    assert resolve_class("ANKLE BOOT", FASHION) == 9
    assert resolve_class("7", FASHION) == 7
    with pytest.raises(RunError) as err:
        resolve_class("hat", FASHION)
    assert "0=T-shirt/top" in str(err.value) and "9=Ankle boot" in str(err.value)
    with pytest.raises(RunError):
        resolve_class("10", FASHION)


def test_classifier_train_command(capsys, tmp_path):
    from tests.variants.test_figan import _folder

    _folder(tmp_path / "imgs", per_class=10)
    out = tmp_path / "c.safetensors"
    code, text, err = run_cli(
        capsys,
        "classifier",
        "train",
        "--root",
        tmp_path / "imgs",
        "--out",
        out,
        "--epochs",
        2,
        "--width",
        4,
        "--quiet",
    )
    assert code == 0, err
    assert out.is_file() and "2 classes, 18 training images" in text
    code, _, err = run_cli(
        capsys, "classifier", "train", "--root", tmp_path / "imgs", "--out", out, "--val", 1.5
    )
    assert_one_line_error(code, err, "--val in (0, 1)")
    code, _, err = run_cli(
        capsys, "classifier", "train", "--root", tmp_path / "nowhere", "--out", out
    )
    assert code != 0 and len(err.strip().splitlines()) == 1
