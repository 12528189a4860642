"""The preview helpers variants draw with: translation triplets for images and 2-D points."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from PIL import Image
from torch import nn

from gankit.previews import Preview


def _preview(tmp_path, net: nn.Module) -> Preview:
    cfg = SimpleNamespace(log=SimpleNamespace(toy_frames=True), train=SimpleNamespace(seed=0))
    return Preview(
        step=7, cfg=cfg, data=None, nets={"T": net}, device=torch.device("cpu"),
        samples_dir=tmp_path / "samples", frames_dir=tmp_path / "frames",
        fixed_z=torch.zeros(1, 2), sampler=lambda: None,
        model=lambda name: net if name == "apply" else None,
    )  # fmt: skip


def test_image_translation_is_rows_of_input_output_target(tmp_path):
    net = nn.Conv2d(1, 1, 1).train()
    p = _preview(tmp_path, net)
    p.translation("apply", torch.zeros(5, 1, 8, 8), torch.ones(5, 1, 8, 8))
    with Image.open(tmp_path / "samples" / "step_00000007.png") as grid:
        width, height = grid.size
    assert width > height  # 5 columns, 3 rows (input, output, target)
    assert net.training  # back in its own mode after the preview
    p.translation("missing", torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))  # no such export


def test_point_translation_is_one_frame(tmp_path):
    p = _preview(tmp_path, nn.Linear(2, 2))
    p.translation("apply", torch.randn(20, 2), torch.randn(20, 2))
    assert (tmp_path / "frames" / "step_00000007.png").stat().st_size > 0
