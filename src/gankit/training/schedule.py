"""Schedules the loop applies to every run (not tricks of one variant)."""

from __future__ import annotations


def lr_decay_factor(lr_decay: float, step: int, total_steps: int) -> float:
    """Factor on every learning rate at ``step``: 1, then falling linearly over the last
    ``lr_decay`` fraction of the run to 1 / (that many steps) at the last step, never 0 (the
    loop rescales the rates by ratios of this factor). Small late steps let G settle on the
    modes instead of circling them: the simultaneous gradient game does not converge at a
    constant step size (Mescheder et al. 2018, Sec. 2)."""
    span = lr_decay * total_steps
    if span < 1 or step < total_steps - span:
        return 1.0
    return max(total_steps - step, 1) / span
