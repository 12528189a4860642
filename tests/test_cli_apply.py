"""`gankit apply`: a run's input-to-output export on arrays, image files and folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.runs import load_model
from tests.conftest import TINY_DCGAN, TINY_TOY
from tests.test_cli import assert_one_line_error, run_cli, sets


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("apply")
    tiny_info = {**TINY_DCGAN, "data.image_size": 16, "diagnose.enabled": False}
    for preset, sets_, name in (
        ("bigan-ring", TINY_TOY, "bigan"),
        ("cyclegan-ring-grid", TINY_TOY, "cyc"),
        ("infogan-digits", tiny_info, "info"),
        ("toy-ring", TINY_TOY, "toy"),
        ("dcgan-digits", TINY_DCGAN, "dcgan"),
    ):
        args = ["train", preset, "--out", root / name, "--steps", 4, *sets(sets_)]
        from gankit.cli import main

        assert main([str(a) for a in args]) == 0
    return root


def test_apply_encodes_points_with_bigan(runs, tmp_path, capsys):
    points = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    np.save(tmp_path / "p.npy", points)
    code, out, _ = run_cli(
        capsys, "apply", runs / "bigan", "--input", tmp_path / "p.npy", "--out", tmp_path / "z.npy"
    )
    assert code == 0 and "wrote 10" in out
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (10, 2) and z.dtype == np.float32
    import torch

    want = load_model(runs / "bigan")(torch.from_numpy(points)).numpy()
    assert np.array_equal(z, want)


def test_apply_translates_both_directions_with_cyclegan(runs, tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.zeros((5, 2), np.float32))
    for export in ("apply", "apply_ba"):
        out_file = tmp_path / f"{export}.npy"
        code, _, _ = run_cli(
            capsys, "apply", runs / "cyc", "--input", tmp_path / "a.npy", "--out", out_file,
            "--export", export,
        )  # fmt: skip
        assert code == 0 and np.load(out_file).shape == (5, 2)
    assert not np.array_equal(np.load(tmp_path / "apply.npy"), np.load(tmp_path / "apply_ba.npy"))


def test_apply_reads_a_folder_skipping_a_bad_file(runs, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(folder / f"{i}.png")
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(folder / "small.png")  # wrong size
    (folder / "broken.png").write_bytes(b"not a png")
    code, out, err = run_cli(
        capsys, "apply", runs / "info", "--export", "codes", "--input", folder,
        "--out", tmp_path / "codes.npy",
    )  # fmt: skip
    assert code == 0 and "skipped 2" in out
    assert "small.png is 9x9; this model takes 16x16" in err and "broken.png" in err
    codes = np.load(tmp_path / "codes.npy")
    assert codes.shape == (3, 12) and codes.dtype == np.float32  # 10 categories + 2 means


def test_apply_one_image_file(runs, tmp_path, capsys):
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(tmp_path / "one.png")
    code, _, _ = run_cli(
        capsys, "apply", runs / "info", "--export", "codes", "--input", tmp_path / "one.png",
        "--out", tmp_path / "one.npy",
    )  # fmt: skip
    assert code == 0 and np.load(tmp_path / "one.npy").shape == (1, 12)


@pytest.mark.parametrize(
    "run, array, needles",
    [
        ("toy", np.zeros((3, 2), np.float32), ["offers no model 'apply'", "nothing"]),
        ("bigan", np.zeros((3, 5), np.float32), ["vectors of shape (N, 2)", "(3, 5)"]),
        ("info", np.zeros((3, 1, 8, 8), np.uint8), ["takes (1, 16, 16)"]),
        ("info", np.zeros((3, 1, 16, 16), np.float32), ["must be uint8"]),
    ],
)
def test_apply_bad_input_is_one_line(runs, tmp_path, capsys, run, array, needles):
    np.save(tmp_path / "in.npy", array)
    export = ["--export", "codes"] if run == "info" else []
    code, _, err = run_cli(
        capsys, "apply", runs / run, "--input", tmp_path / "in.npy", "--out", tmp_path / "o.npy",
        *export,
    )  # fmt: skip
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "o.npy").exists()


def test_sample_on_a_run_without_a_sampler_is_one_line(runs, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", runs / "cyc", "--out", tmp_path / "x.npy")
    assert_one_line_error(code, err, "no generator to sample from", "apply: vector -> vector")


def test_a_composite_export_chains_its_parts(runs, tmp_path, capsys):
    import torch

    a = np.random.default_rng(1).normal(size=(6, 2)).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    code, _, _ = run_cli(
        capsys, "apply", runs / "cyc", "--input", tmp_path / "a.npy", "--out", tmp_path / "r.npy",
        "--export", "cycle_a",
    )  # fmt: skip
    assert code == 0
    there = load_model(runs / "cyc", export="apply")(torch.from_numpy(a))
    back = load_model(runs / "cyc", export="apply_ba")(there).numpy()
    assert np.array_equal(np.load(tmp_path / "r.npy"), back)  # G_BA(G_AB(a))


def test_metrics_during_training_need_a_sampler(tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "train", "cyclegan-ring-grid", "--out", tmp_path / "r", "--steps", 2,
        *sets({**TINY_TOY, "eval.metrics": "mode_coverage"}),
    )  # fmt: skip
    assert_one_line_error(code, err, "eval.metrics needs a generator", "cyclegan")
    assert not (tmp_path / "r" / "config.json").exists()  # nothing half-made is left


def test_reconstruct_is_the_reconstruct_export(runs, tmp_path, capsys):
    import torch

    points = np.random.default_rng(2).normal(size=(7, 2)).astype(np.float32)
    np.save(tmp_path / "p.npy", points)
    code, out, _ = run_cli(
        capsys, "apply", runs / "bigan", "--input", tmp_path / "p.npy", "--out",
        tmp_path / "r.npy", "--reconstruct",
    )  # fmt: skip
    assert code == 0 and "wrote 7" in out
    got = np.load(tmp_path / "r.npy")
    want = load_model(runs / "bigan", export="reconstruct")(torch.from_numpy(points)).numpy()
    assert got.shape == (7, 2) and np.array_equal(got, want)
    # G(E(x)) itself: the encoder's codes decoded by the sampler's network
    codes = load_model(runs / "bigan")(torch.from_numpy(points))
    from gankit.runs import load_generator

    assert np.allclose(got, load_generator(runs / "bigan").generate(codes).numpy(), atol=1e-6)


def test_reconstruct_on_a_run_without_it_is_one_line(runs, tmp_path, capsys):
    np.save(tmp_path / "p.npy", np.zeros((3, 2), np.float32))
    code, _, err = run_cli(
        capsys, "apply", runs / "toy", "--input", tmp_path / "p.npy", "--out",
        tmp_path / "r.npy", "--reconstruct",
    )  # fmt: skip
    assert_one_line_error(code, err, "cannot reconstruct", "it offers: nothing", "bigan")
    from gankit.applying import reconstructing_variants

    assert {"bigan", "ali"} <= set(reconstructing_variants())
    assert "dcgan" not in reconstructing_variants()
    assert not (tmp_path / "r.npy").exists()


def test_reconstruct_and_export_together_is_one_line(runs, tmp_path, capsys):
    np.save(tmp_path / "p.npy", np.zeros((3, 2), np.float32))
    code, _, err = run_cli(
        capsys, "apply", runs / "bigan", "--input", tmp_path / "p.npy", "--out",
        tmp_path / "r.npy", "--reconstruct", "--export", "apply",
    )  # fmt: skip
    assert_one_line_error(code, err, "--reconstruct is short for --export reconstruct")
    assert not (tmp_path / "r.npy").exists()


def test_a_folder_of_wrong_sized_images_is_one_line(runs, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((9, 9), np.uint8)).save(folder / f"{i}.png")
    code, _, err = run_cli(
        capsys, "apply", runs / "info", "--export", "codes", "--input", folder,
        "--out", tmp_path / "codes.npy",
    )  # fmt: skip
    assert_one_line_error(
        code, err, "none of the 3 images", "0.png is 9x9; this model takes 16x16",
        "Resize them first", "2 more like it",
    )  # fmt: skip
    assert not (tmp_path / "codes.npy").exists()


def test_dcgan_exports_its_discriminator_logit(runs, tmp_path, capsys):
    import torch

    from gankit.runs import load_network

    images = np.random.default_rng(3).integers(0, 256, (5, 1, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    code, _, _ = run_cli(
        capsys, "apply", runs / "dcgan", "--export", "discriminator", "--input",
        tmp_path / "x.npy", "--out", tmp_path / "logits.npy",
    )  # fmt: skip
    assert code == 0
    logits = np.load(tmp_path / "logits.npy")
    assert logits.shape == (5,) and logits.dtype == np.float32  # one scalar logit per image
    D = load_network(runs / "dcgan", "D")  # the trained D, not an EMA copy
    x = torch.from_numpy(images).float() / 127.5 - 1
    with torch.no_grad():
        assert np.allclose(logits, D(x).numpy(), atol=1e-6)


def test_direction_picks_the_two_way_exports(runs, tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32))
    for direction, export in (("a2b", "apply"), ("b2a", "apply_ba")):
        for flag, value, name in (("--direction", direction, "d"), ("--export", export, "e")):
            code, _, _ = run_cli(
                capsys, "apply", runs / "cyc", "--input", tmp_path / "a.npy",
                "--out", tmp_path / f"{direction}_{name}.npy", flag, value,
            )  # fmt: skip
            assert code == 0
        assert np.array_equal(
            np.load(tmp_path / f"{direction}_d.npy"), np.load(tmp_path / f"{direction}_e.npy")
        )


def test_direction_on_a_one_way_run_or_with_export_is_one_line(runs, tmp_path, capsys):
    np.save(tmp_path / "p.npy", np.zeros((3, 2), np.float32))
    code, _, err = run_cli(
        capsys, "apply", runs / "bigan", "--input", tmp_path / "p.npy",
        "--out", tmp_path / "o.npy", "--direction", "b2a",
    )  # fmt: skip
    assert_one_line_error(code, err, "translates one way only", "cyclegan")
    code, _, err = run_cli(
        capsys, "apply", runs / "cyc", "--input", tmp_path / "p.npy",
        "--out", tmp_path / "o.npy", "--direction", "b2a", "--export", "apply",
    )  # fmt: skip
    assert_one_line_error(code, err, "--direction picks the export")
    assert not (tmp_path / "o.npy").exists()


class _Doubler(torch.nn.Module):
    """A fully convolutional stand-in: nearest x2 upscaling of a grey image."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        return torch.nn.functional.interpolate(x, scale_factor=2.0) * self.w


def _size_free_model(multiple_of=4, min_size=8):
    from gankit.exports import Export
    from gankit.runs import Model

    spec = {"kind": "image", "shape": [1, 8, 8], "multiple_of": multiple_of, "min_size": min_size}
    out = {"kind": "image", "shape": [1, 16, 16]}
    return Model(_Doubler(), Export("G", "map", spec, out), "apply", 0, "test")


def test_a_fully_convolutional_export_takes_every_size_it_declares(tmp_path, capsys):
    from gankit.applying import _apply_folder

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    sizes = {"a": (8, 8), "b": (12, 20), "c": (8, 8), "bad_multiple": (10, 12), "small": (4, 4)}
    for name, (h, w) in sizes.items():
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(folder / f"{name}.png")
    done = _apply_folder(_size_free_model(), folder, tmp_path / "out", image_out=True)
    assert done["written"] == 3
    assert sorted(p.rsplit("/", 1)[-1] for p in done["skipped"]) == [
        "bad_multiple.png",
        "small.png",
    ]
    err = capsys.readouterr().err
    assert "bad_multiple.png is 12x10" in err and "a multiple of 4 and at least 8" in err
    for name in ("a", "b", "c"):
        h, w = sizes[name]
        got = np.asarray(Image.open(tmp_path / "out" / f"{name}.png"))
        src = np.asarray(Image.open(folder / f"{name}.png"))
        assert got.shape == (2 * h, 2 * w)
        assert np.array_equal(got[::2, ::2], src)  # each image went through at its own size
    # several sizes cannot share one array
    from gankit.errors import RunError

    with pytest.raises(RunError, match="different sizes"):
        _apply_folder(_size_free_model(), folder, tmp_path / "o.npy", image_out=True)


def test_a_fixed_size_export_still_names_the_size_it_takes():
    from gankit.applying import size_problem

    spec = {"kind": "image", "shape": [1, 16, 16]}
    assert size_problem(16, 16, spec) is None
    assert "takes 16x16" in size_problem(16, 18, spec)
    assert size_problem(30, 31, {**spec, "min_size": 30}) is None
    assert "at least 32" in size_problem(30, 32, {**spec, "min_size": 32})
