"""Command-line contracts (DESIGN "Contracts") on tiny runs, and one-line errors."""

import gzip
import subprocess
import sys

import numpy as np
import pytest

from gankit.cli import main
from tests.conftest import TINY_DCGAN, TINY_TOY


def sets(d):
    out = []
    for k, v in d.items():
        out += ["--set", f"{k}={v}"]
    return out


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_train_sample_resume_toy(capsys, tmp_path):
    run = tmp_path / "R"
    code, out, _ = run_cli(
        capsys, "train", "toy-ring", "--out", run, "--steps", 12, "--quiet", *sets(TINY_TOY)
    )
    assert code == 0 and "run written to" in out
    p1, p2 = tmp_path / "p1.npy", tmp_path / "p2.npy"
    for p in (p1, p2):
        assert run_cli(capsys, "sample", run, "--n", 250, "--out", p, "--seed", 3)[0] == 0
    a, b = np.load(p1), np.load(p2)
    assert a.shape == (250, 2) and a.dtype == np.float32 and np.array_equal(a, b)
    assert run_cli(capsys, "sample", run, "--n", 50, "--out", tmp_path / "s.png")[0] == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    assert run_cli(capsys, "resume", run, "--steps", 20, "--quiet")[0] == 0
    from gankit.runs import RunDir

    assert RunDir(run).load_checkpoint().step == 20
    code, _, err = run_cli(capsys, "resume", run, "--steps", 10, "--quiet")
    assert_one_line_error(code, err, "already at step 20")


def test_image_sample_layout(capsys, tmp_path):
    run = tmp_path / "D"
    assert (
        run_cli(
            capsys,
            "train",
            "dcgan-digits",
            "--out",
            run,
            "--steps",
            3,
            "--quiet",
            *sets(TINY_DCGAN),
        )[0]
        == 0
    )
    assert run_cli(capsys, "sample", run, "--n", 7, "--out", tmp_path / "x.npy")[0] == 0
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (7, 1, 8, 8) and x.dtype == np.uint8
    assert run_cli(capsys, "sample", run, "--n", 4, "--out", f"{tmp_path}/dir/")[0] == 0
    assert len(list((tmp_path / "dir").glob("*.png"))) == 4
    code, _, err = run_cli(capsys, "sample", run, "--n", 4, "--out", tmp_path / "x", "--label", 1)
    assert_one_line_error(code, err, "not a conditional run")


def test_list(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert (
        code == 0
        and "toy-ring" in out
        and "dcgan-fashion" in out
        and "variants (and what `gankit apply` does with their runs):" in out
    )
    code, out, _ = run_cli(capsys, "list", "--keys")
    assert code == 0 and "train.d_steps" in out


def test_bad_inputs_give_one_clear_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "toy-rng", "--out", tmp_path / "a")
    assert_one_line_error(code, err, "unknown preset", "toy-ring")
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", tmp_path / "a", "--set", "train.lr=1"
    )
    assert_one_line_error(code, err, "unknown config key", "train.lr_d")
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", tmp_path / "a", "--set", "train.steps=lots"
    )
    assert_one_line_error(code, err, "not an int")
    code, _, err = run_cli(capsys, "sample", tmp_path, "--n", 3, "--out", tmp_path / "x.npy")
    assert_one_line_error(code, err, "not a gankit run")
    code, _, err = run_cli(capsys, "resume", tmp_path / "missing")
    assert_one_line_error(code, err, "does not exist")


def test_missing_dataset_says_how_to_get_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "cache"))
    code, _, err = run_cli(
        capsys,
        "train",
        "dcgan-mnist",
        "--out",
        tmp_path / "m",
        "--set",
        f"data.root={tmp_path / 'empty'}",
    )
    assert_one_line_error(code, err, "mnist")


def test_corrupt_idx_file(capsys, tmp_path):
    root = tmp_path / "fm"
    root.mkdir()
    header = (2051).to_bytes(4, "big") + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    with gzip.open(root / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + bytes(1000))  # truncated: promises 60000 images
    with gzip.open(root / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write((2049).to_bytes(4, "big") + (60000).to_bytes(4, "big") + bytes(60000))
    code, _, err = run_cli(
        capsys, "train", "dcgan-fashion", "--out", tmp_path / "f", "--set", f"data.root={root}"
    )
    assert_one_line_error(code, err, "train-images-idx3-ubyte")


def test_image_folder_without_images(capsys, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "notes.txt").write_text("no images here")
    code, _, err = run_cli(
        capsys,
        "train",
        "dcgan-folder",
        "--out",
        tmp_path / "f",
        "--set",
        f"data.root={tmp_path / 'imgs'}",
    )
    assert_one_line_error(code, err, "image")
    assert not (tmp_path / "f" / "checkpoints").exists() or not any(
        (tmp_path / "f" / "checkpoints").iterdir()
    )


@pytest.mark.parametrize("args", [["list"], ["sample", "/nonexistent", "--out", "x.npy"]])
def test_console_entry_point(args):
    proc = subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    assert (proc.returncode == 0) == (args == ["list"])
