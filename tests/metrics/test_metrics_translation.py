"""Scores of translation outputs: `gankit eval OUT --reference REF --metrics psnr,ssim` on
files and folders, and the scores of image-to-image runs on their test split."""

import json

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from gankit.metrics import psnr, ssim
from gankit.metrics.translation import score_pair_files


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def noisy_pair(n=5, c=3, size=24, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 256, (n, c, size, size)).astype(np.int64)
    o = np.clip(t + rng.integers(-30, 31, t.shape), 0, 255)
    return o.astype(np.uint8), t.astype(np.uint8)


def test_eval_scores_two_arrays_item_by_item(tmp_path, capsys):
    o, t = noisy_pair()
    np.save(tmp_path / "o.npy", o)
    np.save(tmp_path / "t.npy", t)
    code, out, _ = run_cli(
        capsys, "eval", tmp_path / "o.npy", "--reference", tmp_path / "t.npy",
        "--metrics", "psnr,ssim", "--crop", 2, "--y-channel",
    )  # fmt: skip
    assert code == 0
    got = json.loads(out)
    assert got["n"] == 5 and got["crop"] == 2 and got["y_channel"] is True
    assert got["psnr"] == pytest.approx(psnr(o, t, crop=2, y_channel=True))
    assert got["ssim"] == pytest.approx(ssim(o, t, crop=2, y_channel=True))


def _save_folder(folder, images):
    folder.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im.transpose(1, 2, 0)).save(folder / f"{i:02d}.png")


def test_folders_are_matched_by_file_name(tmp_path):
    o, t = noisy_pair(n=4)
    _save_folder(tmp_path / "out", o)
    _save_folder(tmp_path / "ref", t)
    got = score_pair_files(tmp_path / "out", tmp_path / "ref")
    assert got["psnr"] == pytest.approx(psnr(o, t))
    (tmp_path / "ref" / "03.png").rename(tmp_path / "ref" / "99.png")
    from gankit.errors import DataError

    with pytest.raises(DataError, match="same file names"):
        score_pair_files(tmp_path / "out", tmp_path / "ref")


def test_mismatched_arrays_are_one_line(tmp_path, capsys):
    o, t = noisy_pair()
    np.save(tmp_path / "o.npy", o)
    np.save(tmp_path / "t.npy", t[:3])
    code, _, err = run_cli(
        capsys, "eval", tmp_path / "o.npy", "--reference", tmp_path / "t.npy", "--metrics", "psnr"
    )
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert code != 0 and len(lines) == 1 and "same shape" in lines[0]
