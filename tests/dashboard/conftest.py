"""Finished tiny runs shared by the dashboard tests (trained once per session)."""

import pytest
import torch

from gankit import api
from tests.conftest import TINY_DCGAN, TINY_TOY


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory):
    """``digits`` (a DCGAN, sample grids) and ``exp/ring`` (a 2-D toy, contour frames)."""
    root = tmp_path_factory.mktemp("finished_runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: extra threads only fight over the 2 shared cores
    try:
        api.train("dcgan-digits", root / "digits", steps=20, overrides=TINY_DCGAN)
        toy = {**TINY_TOY, "log.toy_frames": True}
        api.train("toy-ring", root / "exp" / "ring", steps=20, overrides=toy)
    finally:
        torch.set_num_threads(threads)
    return root
