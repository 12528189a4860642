"""TensorBoard output (``log.tensorboard=true``): what the run directory already holds, also
as event files in ``RUN/tensorboard/`` for users of TensorBoard.

Scalars: every numeric key of each stats record (losses, D outputs, rates, diagnostics,
``metric/...``), at the record's step. Images: each new sample grid (``samples/step_*.png``)
and toy frame (``frames/step_*.png``) at its step, read back from the PNG the preview wrote,
so the pictures are the run's own. The writer is ``torch.utils.tensorboard``, which needs the
``tensorboard`` package (the optional extra ``gankit[tensorboard]``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import ConfigError
from gankit.training.callbacks import Callback, Trainer

PICTURE_FOLDERS = ("samples", "frames")


class TensorBoard(Callback):
    def __init__(self, run_path: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch raises ImportError when the tensorboard package is absent
            raise ConfigError(
                "log.tensorboard=true needs the tensorboard package: "
                'pip install "gankit[tensorboard]" (or pip install tensorboard).'
            ) from None
        self.run_path = Path(run_path)
        self.writer = SummaryWriter(log_dir=str(self.run_path / "tensorboard"))
        # pictures already there (a resumed run) were logged by the earlier session
        self.seen: set[Path] = set(self._pictures())

    def _pictures(self) -> list[Path]:
        found = []
        for folder in PICTURE_FOLDERS:
            found += sorted((self.run_path / folder).glob("step_*.png"))
        return found

    def on_record(self, trainer: Trainer, record: dict[str, Any]) -> None:
        step = int(record["step"])
        for key, value in record.items():
            if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                self.writer.add_scalar(key, value, step)
        self._log_new_pictures()
        self.writer.flush()

    def _log_new_pictures(self) -> None:
        from PIL import Image

        for path in self._pictures():
            if path in self.seen:
                continue
            self.seen.add(path)
            step = int(path.stem.split("_")[1])
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("RGB"))  # (H, W, 3) uint8
            self.writer.add_image(path.parent.name, pixels, step, dataformats="HWC")

    def on_train_end(self, trainer: Trainer) -> None:
        self._log_new_pictures()  # the last step's picture is written after its record
        self.writer.flush()
        self.writer.close()

    def on_error(self, trainer: Trainer, exc: Exception) -> None:
        self.writer.close()
