import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit.data.idx import parse_idx, read_idx
from gankit.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return (
        bytes([0, 0, 0x08, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


IMAGES = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path, write_idx, gz):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", IMAGES, gz=gz)
    out = read_idx(path)
    assert out.dtype == np.uint8 and np.array_equal(out, IMAGES)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    path = tmp_path / "labels-no-suffix"
    path.write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 3]))))
    assert read_idx(path).tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bad magic"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00" * 4, "float32"),
        (b"\x00\x00\x42\x01" + struct.pack(">I", 1) + b"\x00", "unknown type"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x05" + struct.pack(">5I", 1, 1, 1, 1, 1) + b"\x00", "5 dimensions"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 3), "inside its header"),
        (idx_bytes(IMAGES)[:-1], "truncated"),
        (idx_bytes(IMAGES) + b"junk", "unexpected bytes"),
        (b"\x00\x00\x08\x03" + struct.pack(">3I", 100000, 100000, 100000), "more than"),
        (b"\x00\x00\x08\x02" + struct.pack(">2I", 0, 28), "empty"),
    ],
)
def test_malformed_idx_raises_data_error(data, message):
    with pytest.raises(DataError, match=message):
        parse_idx(data)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    whole = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (50, 8, 8))))
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz.*truncated or corrupt gzip"):
        read_idx(path)


def test_damaged_gzip_crc():
    whole = bytearray(gzip.compress(idx_bytes(IMAGES)))
    whole[-8] ^= 0xFF  # the CRC32 in the trailer
    with pytest.raises(DataError, match="gzip"):
        parse_idx(bytes(whole))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")
    with pytest.raises(DataError, match="directory"):
        read_idx(tmp_path)


def _valid_header_then(tail: bytes) -> bytes:
    return b"\x00\x00\x08" + tail


fuzz_input = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(_valid_header_then),
    st.binary(max_size=200).map(lambda b: gzip.compress(_valid_header_then(b))),
    st.tuples(st.binary(max_size=200), st.integers(0, 60)).map(
        lambda t: gzip.compress(_valid_header_then(t[0]))[: t[1]]
    ),
)


# database=None: no .hypothesis/ folder is written into the checkout.
@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(fuzz_input)
def test_fuzz_only_data_error(data):
    try:
        out = parse_idx(data)
    except DataError:
        return
    assert out.dtype == np.uint8 and out.size > 0
