"""Fuzzing the data loaders: IDX, .npy / .npz and image folders. Whatever the bytes, the only
exception that may escape is the library's own (GankitError), with a one-line message."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from gankit.data import load_dataset
from gankit.data.idx import read_idx
from gankit.errors import GankitError
from tests.reliability.fuzzing import BIG, damaged, fuzz


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """One folder for the module; each example overwrites its files."""
    return tmp_path_factory.mktemp("fuzz")


def only_library_errors(load) -> None:
    try:
        load()
    except GankitError as exc:
        assert str(exc) and "\n" not in str(exc)


# --- IDX (MNIST / Fashion-MNIST) ----------------------------------------------------------------
def _idx(array: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 8, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + (array.tobytes())
    )


_IDX = _idx(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
_HEADERS = st.tuples(st.integers(0, 255), st.integers(0, 6), st.lists(BIG, max_size=6)).map(
    lambda t: bytes([0, 0, t[0], t[1]]) + b"".join((d % 2**32).to_bytes(4, "big") for d in t[2])
)
IDX_INPUTS = st.one_of(
    st.binary(max_size=64),
    _HEADERS,
    damaged(_IDX, focus=20),
    damaged(_IDX, focus=20).map(gzip.compress),
    damaged(gzip.compress(_IDX)),
)


@fuzz(800)
@given(data=IDX_INPUTS)
def test_fuzz_idx(data, scratch):
    path = scratch / "train-images-idx3-ubyte"
    path.write_bytes(data)
    only_library_errors(lambda: read_idx(path))


# --- .npy / .npz -----------------------------------------------------------------------------
def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


_ARRAYS = [
    np.zeros((4, 2), np.float32),
    np.arange(4 * 5 * 5, dtype=np.uint8).reshape(4, 5, 5),
    np.ones((3, 1, 4, 4), np.float64) * 0.5,
    np.arange(6, dtype=np.int64),
]


def _header(shape: tuple, descr: str) -> bytes:
    """A .npy header declaring any shape and dtype, whatever data follows."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (63 - len(text) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


_DESCRS = st.sampled_from(["<f4", "<f8", "|u1", "<i8", "|b1", "<c8", "|O", "<U3", "|V4", "zz"])
_CRAFTED = st.builds(
    lambda shape, descr, tail: _header(tuple(shape), descr) + tail,
    st.lists(BIG | st.integers(0, 5), max_size=4),
    _DESCRS,
    st.binary(max_size=64),
)
NPY = st.one_of(
    st.binary(max_size=128),
    _CRAFTED,
    st.sampled_from(_ARRAYS).map(_npy).flatmap(lambda b: damaged(b, focus=128)),
)


def _zip(members: list[tuple[str, bytes]], compressed: bool) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


NPZ = st.one_of(
    st.builds(
        _zip,
        st.lists(
            st.tuples(st.sampled_from(["x.npy", "y.npy", "images.npy", "x", "labels.npy"]), NPY),
            max_size=3,
        ),
        st.booleans(),
    ),
    st.builds(
        _zip, st.just([("x.npy", _npy(_ARRAYS[1])), ("y.npy", _npy(_ARRAYS[3][:4]))]), st.booleans()
    ).flatmap(lambda b: damaged(b)),  # fmt: skip
)


@fuzz(700)
@given(data=NPY)
def test_fuzz_npy(data, scratch):
    path = scratch / "data.npy"
    path.write_bytes(data)
    only_library_errors(lambda: load_dataset("array", root=path))


@fuzz(600)
@given(data=NPZ)
def test_fuzz_npz(data, scratch):
    path = scratch / "data.npz"
    path.write_bytes(data)
    only_library_errors(lambda: load_dataset("array", root=path))


# --- image folders ---------------------------------------------------------------------------
def _image(fmt: str, mode: str, size: int) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), color=7 if mode in ("L", "P") else (1, 2, 3)).save(buf, fmt)
    return buf.getvalue()


_VALID_IMAGES = [_image(f, m, s) for f in ("PNG", "JPEG") for m in ("L", "RGB") for s in (4, 9)]
IMAGE_BYTES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(_VALID_IMAGES),
    st.sampled_from(_VALID_IMAGES).flatmap(lambda b: damaged(b, focus=64)),
)


@fuzz(500)
@given(
    files=st.lists(
        st.tuples(st.sampled_from([".png", ".jpg", ".jpeg"]), IMAGE_BYTES), min_size=1, max_size=3
    ),  # fmt: skip
    image_size=st.sampled_from([None, 8]),
)
def test_fuzz_image_folder(files, image_size, scratch):
    folder = scratch / "images"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for i, (suffix, data) in enumerate(files):
        (folder / f"{i}{suffix}").write_bytes(data)
    only_library_errors(lambda: load_dataset("folder", root=folder, image_size=image_size))
