"""Numeric precision of the training step: fp32, bf16 autocast, or fp16 autocast + loss scaling.

bf16 keeps fp32's exponent range, so it needs no loss scaling; fp16 does (Micikevicius et
al. 2018, "Mixed Precision Training"), with one GradScaler per phase because each phase has
its own optimizer and backward pass. Loss terms are summed in fp32.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from gankit.errors import ConfigError

MODES = ("fp32", "bf16", "fp16")


class Precision:
    def __init__(self, mode: str, device: torch.device, phases: list[str]):
        if mode not in MODES:
            raise ConfigError(f"train.precision={mode!r}; valid: {', '.join(MODES)}.")
        if mode == "fp16" and device.type != "cuda":
            raise ConfigError("train.precision=fp16 needs a CUDA device; use bf16 on CPU.")
        self.mode, self.device = mode, device
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mode)
        self.scalers = (
            {p: torch.amp.GradScaler(device.type) for p in phases} if mode == "fp16" else {}
        )

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: Tensor, phase: str) -> None:
        scaler = self.scalers.get(phase)
        (scaler.scale(loss) if scaler else loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer, phase: str) -> None:
        """Bring gradients back to their true scale before they are inspected or clipped."""
        scaler = self.scalers.get(phase)
        if scaler:
            scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer, phase: str) -> None:
        scaler = self.scalers.get(phase)
        if scaler:
            scaler.step(optimizer)  # skipped by the scaler when gradients overflowed
            scaler.update()
        else:
            optimizer.step()

    def state(self) -> dict[str, Tensor]:
        return {f"{p}.scale": torch.tensor([s.get_scale()]) for p, s in self.scalers.items()}

    def load_state(self, tensors: dict[str, Tensor]) -> None:
        for p, s in self.scalers.items():
            if f"{p}.scale" in tensors:
                s.update(float(tensors[f"{p}.scale"].item()))
