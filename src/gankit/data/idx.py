"""Reader for the IDX format of MNIST and Fashion-MNIST, gzipped or raw.

Format (LeCun, Cortes & Burges, "The MNIST database of handwritten digits",
http://yann.lecun.com/exdb/mnist/, section "File formats"): a 4-byte magic number
``0x00 0x00 <type code> <ndim>``, then ``ndim`` big-endian uint32 sizes, then the elements in
C order. Only type code 0x08 (unsigned byte), the one both datasets use, is supported.

The header is checked and the element count bounded before any payload is read, so a crafted
file cannot make us allocate gigabytes; the payload is then read in fixed chunks (never one
buffer of the size the header claims) and wrapped with ``np.frombuffer``.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gankit.errors import DataError

UBYTE = 0x08
TYPE_NAMES = {
    0x08: "ubyte",
    0x09: "byte",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
MAX_NDIM = 4
MAX_ELEMENTS = 10**9
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 24


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip detected from its magic bytes, not its name) into a uint8 array."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            return _read_stream(raw, str(path))
    except FileNotFoundError:
        raise DataError(f"IDX file {path} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not an IDX file") from None
    except OSError as exc:  # permissions, I/O errors: gzip problems are handled inside
        raise DataError(f"cannot read IDX file {path} ({exc.strerror or exc})") from None


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes (gzipped or raw) held in memory; ``what`` names them in errors."""
    return _read_stream(io.BytesIO(data), what)


def _read_stream(raw: BinaryIO, what: str) -> np.ndarray:
    start = raw.read(2)
    raw.seek(0)
    if start != _GZIP_MAGIC:
        return _parse(raw, what)
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            return _parse(unzipped, what)
    except (EOFError, OSError, zlib.error) as exc:
        # EOFError: cut-off stream; BadGzipFile (an OSError) / zlib.error: damaged bytes or CRC.
        raise DataError(
            f"{what} is a truncated or corrupt gzip file ({exc}); delete it and fetch it again"
        ) from None


def _parse(stream: BinaryIO, what: str) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise DataError(
            f"{what} is not an IDX file (bad magic number {magic.hex() or 'empty'}); "
            "expected an MNIST-style file such as train-images-idx3-ubyte[.gz]"
        )
    type_code, ndim = magic[2], magic[3]
    if type_code != UBYTE:
        kind = TYPE_NAMES.get(type_code, f"unknown type 0x{type_code:02x}")
        raise DataError(
            f"{what} holds {kind} elements; only unsigned-byte (0x08) IDX files are supported"
        )
    if not 1 <= ndim <= MAX_NDIM:
        raise DataError(f"{what} declares {ndim} dimensions; IDX datasets have 1 to {MAX_NDIM}")
    dims_raw = stream.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{what} is truncated inside its header; delete it and fetch it again")
    dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    count = 1
    for d in dims:
        count *= d
    if count == 0:
        raise DataError(f"{what} is empty (dimensions {dims})")
    if count > MAX_ELEMENTS:
        raise DataError(
            f"{what} claims {count} elements (dimensions {dims}), more than the "
            f"{MAX_ELEMENTS} allowed; the file is corrupt"
        )
    payload = _read_up_to(stream, count + 1)  # one extra byte reveals trailing garbage
    if len(payload) < count:
        raise DataError(
            f"{what} is truncated: dimensions {dims} need {count} bytes of data but only "
            f"{len(payload)} are present; delete it and fetch it again"
        )
    if len(payload) > count:
        raise DataError(
            f"{what} has unexpected bytes after its {count} data bytes; the file is corrupt"
        )
    return np.frombuffer(payload, dtype=np.uint8, count=count).reshape(dims)


def _read_up_to(stream: BinaryIO, limit: int) -> bytes:
    """Read at most ``limit`` bytes in chunks, so memory follows the real data, not the header."""
    parts = []
    left = limit
    while left > 0:
        part = stream.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)
