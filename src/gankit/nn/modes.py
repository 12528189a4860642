"""Switching modules to eval mode for a block of code and back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Modules in eval mode for the block, each restored to its own mode afterwards (a live
    network sampled during training goes back to training mode)."""
    # every submodule's own mode: a composite made on the fly (train mode) may hold an EMA
    # copy (eval mode), and train(mode) on the composite would overwrite the copy's
    modes = [(sub, sub.training) for m in modules for sub in m.modules()]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for sub, mode in modes:
            sub.training = mode
