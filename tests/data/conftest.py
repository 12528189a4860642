"""Shared writers for the data tests: they produce files in the real on-disk formats."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x00 0x00 0x08 ndim, big-endian dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_file(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def write_idx():
    """``write_idx(path, array, gz=True)``: writes ``path[.gz]`` and returns the path written."""
    return write_idx_file


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """Empty user cache and system dataset folders, so only what a test writes can be found."""
    from gankit.data import mnist

    cache = tmp_path / "cache"
    system = tmp_path / "system"
    monkeypatch.setenv("GANKIT_DATA", str(cache))
    monkeypatch.setattr(mnist, "SYSTEM_DATASETS", system)
    return cache, system
