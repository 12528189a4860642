"""Hypothesis strategies that damage valid files the way disks, downloads and attackers do."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st


def fuzz(n: int) -> settings:
    """``n`` examples; no .hypothesis/ folder in the checkout (database=None); no deadline, as
    a busy shared machine is slow at random moments."""
    return settings(max_examples=n, deadline=None, database=None)


# Values that break size arithmetic: zero, negative, just past 32 bits, near 2**63.
BIG = st.sampled_from([0, 1, -1, 255, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, 10**12])
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    BIG,
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def damaged(draw, base: bytes, focus: int | None = None) -> bytes:
    """``base`` cut short, with bytes overwritten, inserted or big integers written in.

    ``focus`` keeps most edits within the first ``focus`` bytes (a header), where they matter.
    """
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        span = len(data) if focus is None else min(len(data), focus)
        pos = draw(st.integers(0, max(0, span)))
        op = draw(st.sampled_from(["cut", "set", "insert", "int", "zero"]))
        if op == "cut":
            del data[pos:]
        elif op == "set" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "int":
            value = draw(BIG) % 2**64
            order = draw(st.sampled_from(["little", "big"]))
            data[pos : pos + 8] = value.to_bytes(8, order)
        elif op == "zero":
            data[pos : pos + draw(st.integers(1, 64))] = b""
    return bytes(data)
