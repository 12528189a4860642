"""`gankit sample --label / --per-class`, `gankit traverse`, `gankit interpolate` on tiny runs."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.data import from_unit_range
from gankit.latent import lerp, slerp
from gankit.presets import preset_config
from gankit.runs import load_generator
from tests.conftest import TINY_DCGAN

TINY = {**TINY_DCGAN, "log.n_fixed": 20, "log.progress": False}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks gain nothing from threads; on a loaded 2-core machine spinning OpenMP
    workers make them many times slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("latent")
    out = {}
    for name, preset in (
        ("cgan", "cgan-digits"),
        ("info", "infogan-digits"),
        ("plain", "dcgan-digits"),
    ):
        out[name] = api.train(preset_config(preset, TINY), root / name, steps=2).path
    return out


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *args):
    code, _, err = cli(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def u8(x):
    return from_unit_range(x).numpy()


def test_sample_label_gives_that_class(runs, capsys, tmp_path):
    out = tmp_path / "s.npy"
    assert (
        cli(capsys, "sample", runs["cgan"], "--n", 6, "--label", 4, "--seed", 2, "--out", out)[0]
        == 0
    )
    G = load_generator(runs["cgan"])
    assert np.array_equal(np.load(out), u8(G.sample(6, seed=2, label=4)))
    assert not np.array_equal(np.load(out), u8(G.sample(6, seed=2, label=5)))


@pytest.mark.parametrize("label", [10, -1])
def test_label_outside_the_classes(runs, capsys, tmp_path, label):
    err = one_line_error(
        capsys, "sample", runs["cgan"], "--label", label, "--out", tmp_path / "x.npy"
    )
    assert "outside the classes" in err and "0..9" in err


@pytest.mark.parametrize("run", ["info", "plain"])
def test_label_on_unconditional_run(runs, capsys, tmp_path, run):
    err = one_line_error(capsys, "sample", runs[run], "--label", 1, "--out", tmp_path / "x.npy")
    assert "not a conditional run" in err and "drop --label" in err


def test_per_class_grid_has_a_row_per_class(runs, capsys, tmp_path):
    out = tmp_path / "pc.npy"
    assert (
        cli(capsys, "sample", runs["cgan"], "--per-class", "--n", 3, "--seed", 1, "--out", out)[0]
        == 0
    )
    grid = np.load(out)
    assert grid.shape == (30, 1, 8, 8)
    G = load_generator(runs["cgan"])
    for k in (0, 7):
        assert np.array_equal(grid[3 * k : 3 * k + 3], u8(G.sample(3, seed=1, label=k)))
    png = tmp_path / "pc.png"
    assert cli(capsys, "sample", runs["cgan"], "--per-class", "--n", 3, "--out", png)[0] == 0
    w, h = Image.open(png).size
    assert h > 3 * w  # 10 rows of 3 columns
    err = one_line_error(capsys, "sample", runs["info"], "--per-class", "--out", png)
    assert "traverse" in err


def test_traverse_categorical_code_varies_only_that_code(runs, capsys, tmp_path):
    out = tmp_path / "t.npy"
    args = ("traverse", runs["info"], "--code", 0, "--rows", 4, "--seed", 3, "--out", out)
    assert cli(capsys, *args)[0] == 0
    grid = np.load(out).reshape(4, 10, 1, 8, 8)  # rows = fixed samples, columns = code values
    G = load_generator(runs["info"])
    for v in (0, 9):
        assert np.array_equal(grid[:, v], u8(G.sample(4, seed=3, codes={0: v})))
    # the other codes and z are those the same seed draws without fixing anything
    gen = torch.Generator().manual_seed(3)
    free = G.layout.draw(4, G.prior, gen, "cpu")
    fixed = G.layout.draw(4, G.prior, torch.Generator().manual_seed(3), "cpu", {0: 2})
    assert torch.equal(free["z"], fixed["z"]) and torch.equal(free["c"][:, 10:], fixed["c"][:, 10:])
    assert torch.all(fixed["c"][:, 2] == 1)


def test_traverse_continuous_code_spans_the_range(runs, capsys, tmp_path):
    out = tmp_path / "t.npy"
    args = ("traverse", runs["info"], "--code", 2, "--steps", 5, "--rows", 2, "--range", -1, 1)
    assert cli(capsys, *args, "--out", out)[0] == 0
    grid = np.load(out).reshape(2, 5, 1, 8, 8)
    G = load_generator(runs["info"])
    assert np.array_equal(grid[:, 1], u8(G.sample(2, seed=0, codes={2: -0.5})))
    assert cli(capsys, *args, "--out", tmp_path / "t.png")[0] == 0


@pytest.mark.parametrize(
    ("run", "code", "needle"),
    [("info", 3, "0 = categorical (10 values)"), ("plain", 0, "none"), ("cgan", 1, "0 = label")],
)
def test_traverse_unknown_code(runs, capsys, tmp_path, run, code, needle):
    err = one_line_error(capsys, "traverse", runs[run], "--code", code, "--out", tmp_path / "t.png")
    assert f"code {code} does not exist" in err and needle in err


def test_interpolate_walks_between_two_latent_points(runs, capsys, tmp_path):
    G = load_generator(runs["cgan"])
    ends = [G.layout.draw(3, G.prior, torch.Generator().manual_seed(s), "cpu") for s in (5, 6)]
    walks = {}
    for mode in ("linear", "spherical"):
        out = tmp_path / f"{mode}.npy"
        args = ("interpolate", runs["cgan"], "--mode", mode, "--rows", 3, "--steps", 5, "--seed", 5)
        assert cli(capsys, *args, "--out", out)[0] == 0
        walks[mode] = np.load(out).reshape(3, 5, 1, 8, 8)
        a, b = ends
        assert np.array_equal(walks[mode][:, 0], u8(G.generate(**a)))
        assert np.array_equal(
            walks[mode][:, -1], u8(G.generate(**{**a, "z": b["z"]}))
        )  # label kept
    assert not np.array_equal(walks["linear"][:, 2], walks["spherical"][:, 2])


def test_interpolate_between_two_labels_and_gif(runs, capsys, tmp_path):
    out = tmp_path / "l.npy"
    args = ("interpolate", runs["cgan"], "--labels", 1, 7, "--rows", 2, "--steps", 4, "--seed", 0)
    assert cli(capsys, *args, "--out", out)[0] == 0
    walk = np.load(out).reshape(2, 4, 1, 8, 8)
    G = load_generator(runs["cgan"])
    assert np.array_equal(walk[:, 0], u8(G.sample(2, seed=0, label=1)))
    assert np.array_equal(walk[:, -1], u8(G.sample(2, seed=0, label=7)))
    gif = tmp_path / "l.gif"
    assert cli(capsys, *args, "--out", gif)[0] == 0
    assert Image.open(gif).n_frames == 2 * 4 - 2  # forwards, then back without repeating ends
    err = one_line_error(capsys, "interpolate", runs["info"], "--labels", 0, 1, "--out", gif)
    assert "not a conditional run" in err
    err = one_line_error(capsys, "interpolate", runs["cgan"], "--labels", 0, 12, "--out", gif)
    assert "outside the classes" in err


def test_slerp_and_lerp():
    a, b = torch.randn(5, 16), torch.randn(5, 16)
    for f in (lerp, slerp):
        assert torch.allclose(f(a, b, 0.0), a, atol=1e-5) and torch.allclose(
            f(a, b, 1.0), b, atol=1e-5
        )
    u, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    mid = slerp(u, v, 0.5)
    assert torch.allclose(mid, torch.tensor([[2**-0.5, 2**-0.5]]))  # on the unit circle
    assert torch.allclose(slerp(u, u, 0.3), u)  # parallel: falls back to lerp


def test_sample_fixes_a_latent_code(capsys, tmp_path):
    """`gankit sample --code C=V` (an InfoGAN code here; AAE clusters use the same layout)."""
    run = api.train("infogan-digits", tmp_path / "R", steps=2, overrides=TINY_DCGAN).path
    out = tmp_path / "s.npy"
    code = main(["sample", str(run), "--n", "8", "--seed", "0", "--code", "0=3", "--out", str(out)])
    assert code == 0
    fixed = np.load(out)
    expect = api.sample(run, 8, seed=0, codes={0: 3})
    assert np.array_equal(fixed, expect)
    assert not np.array_equal(fixed, api.sample(run, 8, seed=0, codes={0: 4}))
    capsys.readouterr()
    for bad, needle in (("0:3", "must look like C=V"), ("9=1", "code 9 does not exist")):
        code = main(["sample", str(run), "--n", "2", "--code", bad, "--out", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code != 0 and len(err) == 1 and needle in err[0], err
