"""What a cached benchmark run is keyed by, shared by the benchmark scripts: a fingerprint
of gankit's source and of the environment that ran it.

A published table must come out again from its command on a clean cache, so a cached run is
reused only by the same code on the same kind of machine: the sha256 of every source file
under src/gankit (a stricter key than the commit, which also changes for docs), torch's
version, Python's, the machine architecture and the CPU capability torch dispatches to
(AVX2, AVX512, ...), which changes floating-point results.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def environment() -> str:
    import torch

    return (
        f"torch {torch.__version__} python {sys.version_info[0]}.{sys.version_info[1]} "
        f"{platform.machine()} cpu {torch.backends.cpu.get_cpu_capability()}"
    )


def code_fingerprint(*extra: Path) -> str:
    """12 hex digits of sha256 over gankit's source files (path and bytes), any ``extra`` files
    (a benchmark script whose own code decides the result) and environment()."""
    digest = hashlib.sha256()
    for path in [*sorted((ROOT / "src" / "gankit").rglob("*.py")), *map(Path, extra)]:
        path = path.resolve()
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        digest.update(str(name).encode() + path.read_bytes())
    digest.update(environment().encode())
    return digest.hexdigest()[:12]


def override_error(presets: list[str], sets: list[str], seed_option: str) -> str | None:
    """The one-line complaint about a benchmark's ``--set KEY=VALUE`` overrides of
    ``presets`` (they are part of its cache key), or None: an unknown key or a bad value, or
    ``train.seed``, which the script sets itself from ``seed_option`` (api.train's seed
    would silently win over it)."""
    from gankit.errors import ConfigError
    from gankit.presets import preset_config

    if any(kv.split("=")[0].strip() == "train.seed" for kv in sets):
        return f"--set: give the trainings' seed as {seed_option}, not train.seed"
    try:
        for preset in presets:
            preset_config(preset, sets)
    except ConfigError as err:
        return f"--set: {err}"
    return None


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(
        description="print the fingerprint benchmark caches are keyed by"
    ).parse_args()
    print(code_fingerprint(), environment())
