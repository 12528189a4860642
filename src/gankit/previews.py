"""The fixed-input pictures a run draws while it trains (``RUN/samples``, ``RUN/frames``).

The loop hands each variant's ``preview`` hook a :class:`Preview`; the hook picks what to
draw: the sample grid, the 2-D frame with the discriminator's contour, input / output /
target triplets of a translation. Models are reached through the run's exports, so this
module knows no network names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit import viz
from gankit.data.images import from_unit_range
from gankit.nn.modes import evaluating

TOY_POINTS = 1000  # points drawn in a 2-D frame
CONTOUR_RES = 80  # the contour's grid is CONTOUR_RES x CONTOUR_RES
FRAME_SEED_OFFSET = 4  # the frame's noise seed is train.seed + 4 (the loop uses +1..+3)


@dataclass
class Preview:
    """What a preview hook draws with, for one step of one run."""

    step: int
    cfg: Any  # the run's Config
    data: Any  # the run's Dataset
    nets: dict[str, nn.Module]
    device: torch.device
    samples_dir: Path
    frames_dir: Path
    fixed_z: Tensor  # log.n_fixed noise vectors, the same at every step
    sampler: Callable[[], Any]  # the run's Generator (EMA weights where kept), or None
    model: Callable[[str], nn.Module | None]  # an export's module by export name

    @property
    def name(self) -> str:
        return f"step_{self.step:08d}.png"

    # --- what variants call -------------------------------------------------------------------
    @torch.no_grad()
    def samples_and_contour(
        self, judge: Callable[[Tensor], Tensor], judge_modules: Sequence[str] = ()
    ) -> None:
        """A generator's preview: the fixed-noise grid for images; for 2-D data, generated vs
        real points over ``judge``'s contour (D's logits, drawn as sigmoid)."""
        G = self.sampler()
        if G is None:
            return
        if self.data.kind == "image":
            self.image_grid(G.grid(self.fixed_z))
        elif self.data.shape == (2,) and self.cfg.log.toy_frames:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(self.cfg.train.seed + FRAME_SEED_OFFSET)
            fake = G.grid(G.prior.sample(TOY_POINTS, gen, self.device))
            self.toy_frame(fake, judge, judge_modules)

    def image_grid(self, images: Tensor, nrow: int | None = None) -> None:
        """Images in [-1, 1] (N, C, H, W) tiled into ``samples/step_*.png``, ``nrow`` a row."""
        self.samples_dir.mkdir(exist_ok=True)
        grid = viz.image_grid(from_unit_range(images).cpu().numpy(), nrow=nrow)
        viz.save_png(grid, self.samples_dir / self.name)

    @torch.no_grad()
    def toy_frame(
        self, fake: Tensor, judge: Callable[[Tensor], Tensor], judge_modules: Sequence[str] = ()
    ) -> None:
        """Real (black) and ``fake`` (red) points over sigmoid(judge) on a grid."""
        real = self.data.x[:TOY_POINTS].numpy()
        x0, x1, y0, y1 = viz.toy_bounds(real)
        xs, ys = np.meshgrid(np.linspace(x0, x1, CONTOUR_RES), np.linspace(y0, y1, CONTOUR_RES))
        grid = torch.tensor(
            np.stack([xs.ravel(), ys.ravel()], 1), dtype=torch.float32, device=self.device
        )
        with evaluating(*(self.nets[k] for k in judge_modules)):
            prob = torch.sigmoid(judge(grid)).cpu().numpy()
        self.frames_dir.mkdir(exist_ok=True)
        viz.toy_frame(
            real, fake.cpu().numpy(), xs, ys, prob.reshape(xs.shape), self.step,
            self.frames_dir / self.name,
        )  # fmt: skip

    def points(
        self,
        sets: Sequence[tuple[Tensor, str, str]],
        lines: tuple[Tensor, Tensor] | None = None,
    ) -> None:
        """2-D point sets (points, colour, label) in one frame; ``lines`` joins each of the
        first points to its partner in the second (an input and its output)."""
        if not self.cfg.log.toy_frames:
            return
        arrays = [(pts.detach().cpu().numpy()[:, :2], c, label) for pts, c, label in sets]
        joined = None
        if lines is not None:
            joined = np.stack([t.detach().cpu().numpy()[:, :2] for t in lines], 1)
        self.frames_dir.mkdir(exist_ok=True)
        viz.point_sets(arrays, self.step, self.frames_dir / self.name, lines=joined)

    @torch.no_grad()
    def translation(self, export: str, inputs: Tensor, targets: Tensor) -> None:
        """Inputs, the ``export`` model's outputs and unpaired or paired targets: for images a
        grid of rows input / output / target; for 2-D points one frame of all three, with a
        line from some inputs to their outputs."""
        net = self.model(export)
        if net is None:
            return
        with evaluating(net):
            out = net(inputs.to(self.device)).float().cpu()
        inputs, targets = inputs.cpu(), targets.cpu()
        if out.ndim == 4:
            n = min(8, len(inputs), len(targets))
            self.image_grid(torch.cat([inputs[:n], out[:n], targets[:n]]), nrow=n)
        elif out.shape[1:] == (2,):
            k = min(60, len(inputs))
            sets = [(targets, "black", "target"), (inputs, "tab:blue", "input")]
            self.points([*sets, (out, "red", f"{export}(input)")], lines=(inputs[:k], out[:k]))
