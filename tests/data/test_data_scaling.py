import numpy as np
import pytest
import torch

from gankit.data import from_unit_range, to_unit_range
from gankit.data.images import adjust_images, resize_square, to_channels


def test_round_trip_all_256_values():
    pixels = torch.arange(256, dtype=torch.uint8)
    x = to_unit_range(pixels)
    assert x.dtype == torch.float32
    assert x[0] == -1.0 and x[-1] == 1.0
    assert torch.all(x[1:] > x[:-1])
    assert torch.equal(from_unit_range(x), pixels)


def test_numpy_input_including_read_only_buffers():
    pixels = np.frombuffer(bytes(range(256)), dtype=np.uint8)  # read-only, like the IDX reader
    assert torch.equal(to_unit_range(pixels), to_unit_range(torch.from_numpy(pixels.copy())))


def test_from_unit_range_clamps_and_rounds():
    out = from_unit_range(torch.tensor([-5.0, -1.0, 0.0, 1.0, 7.0]))
    assert out.tolist() == [0, 0, 128, 255, 255]  # 127.5 rounds half to even -> 128


def test_to_unit_range_rejects_non_uint8():
    with pytest.raises(TypeError):
        to_unit_range(np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError):
        to_unit_range(torch.zeros(3))


def test_channels_conversion():
    grey = torch.linspace(-1, 1, 16).view(1, 1, 4, 4)
    rgb = to_channels(grey, 3)
    assert rgb.shape == (1, 3, 4, 4) and torch.equal(rgb[:, 0], rgb[:, 2])
    # Luma weights sum to one, so a grey image survives grey -> RGB -> grey.
    assert torch.allclose(to_channels(rgb, 1), grey, atol=1e-6)


def test_resize_keeps_range_and_shape():
    x = torch.rand(5, 3, 28, 28) * 2 - 1
    out = resize_square(x, 16)
    assert out.shape == (5, 3, 16, 16)
    assert out.min() >= -1 and out.max() <= 1
    assert adjust_images(x, None, None) is x
    assert adjust_images(x, 40, 1).shape == (5, 1, 40, 40)
