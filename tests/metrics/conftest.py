"""Run the metric tests single-threaded: their many small tensor operations are fast on one
thread and slow down badly when OpenMP threads compete with other processes for 2 cores.
Results do not depend on the thread count; the previous setting is restored after each test."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
