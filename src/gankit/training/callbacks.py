"""The Callback protocol: what watches training (metrics every N steps, failure diagnostics).

It lives apart from :mod:`gankit.training.loop` so that callbacks (``diagnostics.py``) do not
import the loop that runs them: the loop imports them, never the other way round.
"""

from __future__ import annotations

from typing import Any

# The loop's Trainer; not imported, because the loop imports this module.
Trainer = Any


class Callback:
    """Something that watches training: metrics every N steps, failure diagnostics, ...

    ``on_record`` sees each stats record before it is written and may add keys to it.
    """

    def on_record(self, trainer: Trainer, record: dict[str, Any]) -> None:
        pass

    def on_train_end(self, trainer: Trainer) -> None:
        pass

    def on_error(self, trainer: Trainer, exc: Exception) -> None:
        """Training stopped with ``exc`` (a TrainingError such as a non-finite loss)."""
