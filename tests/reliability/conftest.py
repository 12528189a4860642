"""Fixtures of the reliability tests."""

from __future__ import annotations

import pytest
import torch

from tests.reliability.reliability_support import Zygote


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks on 2 cores shared with other processes: two OpenMP threads spin against
    each other and make a 0.5 ms update take 50-150 ms. One thread; the old count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def zygote():
    """A warm process that forks `gankit` commands; it and its children end with the session."""
    z = Zygote()
    try:
        yield z
    finally:
        z.close()
