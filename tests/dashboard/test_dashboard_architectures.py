"""Issue 16: `gankit sample` (with --label where the run is conditional) and the dashboard's
explorer work on SAGAN, TransGAN and LAPGAN runs, each trained tiny from its own preset."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gankit import api
from gankit.dashboard.explorer import Explorer, ExplorerError
from tests.test_cli import run_cli
from tests.variants.test_contract import tiny_config

VARIANTS = ("sagan", "transgan", "lapgan")


@pytest.fixture(scope="module", params=VARIANTS)
def run(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "run"
    api.train(tiny_config(request.param), path)
    return path


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_explorer_draws_samples_and_walks(run):
    explorer = Explorer()
    info = explorer.info(run)
    assert info["kind"] == "image"
    label = 1 if info["num_classes"] else None
    grid = png(explorer.samples_png(run, seed=0, n=4, label=label))
    assert grid.shape[0] > 16 and grid.std() > 0  # 2x2 tiles of 16 px, not a blank picture
    assert np.array_equal(grid, png(explorer.samples_png(run, seed=0, n=4, label=label)))
    assert not np.array_equal(grid, png(explorer.samples_png(run, seed=9, n=4, label=label)))
    walk = png(explorer.interpolate_png(run, 1, 2, 5, label=label))
    assert walk.shape[1] > walk.shape[0]  # one row of five
    if info["num_classes"]:
        other = png(explorer.samples_png(run, seed=0, n=4, label=0))
        assert not np.array_equal(grid, other)
        with pytest.raises(ExplorerError, match="0.."):
            explorer.samples_png(run, 0, 4, label=info["num_classes"])


def test_sample_command_with_and_without_label(run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", run, "--n", 6, "--out", tmp_path / "s.npy")
    assert code == 0, err
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (6, 1, 16, 16) and x.dtype == np.uint8
    code, _, err = run_cli(
        capsys, "sample", run, "--n", 6, "--label", 2, "--out", tmp_path / "l.npy"
    )
    if Explorer().info(run)["num_classes"]:
        assert code == 0, err
        assert not np.array_equal(np.load(tmp_path / "l.npy"), x)
    else:
        assert code != 0 and "label" in err.lower()
