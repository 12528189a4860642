"""Where gankit keeps what it trains or computes once (domain classifiers, text encoders,
reference statistics): one small module, so that any layer can ask without importing
the metrics or data packages."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """gankit's cache folder: ``$GANKIT_CACHE``, else ``$XDG_CACHE_HOME/gankit``, else
    ``~/.cache/gankit``."""
    if base := os.environ.get("GANKIT_CACHE"):
        return Path(base).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "gankit"
