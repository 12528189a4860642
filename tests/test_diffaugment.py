"""DiffAugment (Zhao et al. 2020): each transformation, gradients through T, the trick in
the loop on real and fake inputs of D in both players' steps, and its config checks."""

import pytest
import torch

from gankit.errors import ConfigError
from gankit.tricks.diffaugment import color, cutout, diff_augment, parse_policy, translation


def gen(seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def test_translation_shifts_whole_images_with_zeros_shifted_in():
    x = torch.arange(2 * 1 * 16 * 16, dtype=torch.float32).view(2, 1, 16, 16) + 1
    y = translation(x, gen(3))
    for i in range(2):
        # find the shift: y equals x moved by (dy, dx) where both are defined
        found = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                moved = torch.zeros_like(x[i, 0])
                src = x[i, 0, max(0, -dy) : 16 - max(0, dy), max(0, -dx) : 16 - max(0, dx)]
                moved[max(0, dy) : 16 - max(0, -dy), max(0, dx) : 16 - max(0, -dx)] = src
                if torch.equal(moved, y[i, 0]):
                    found.append((dy, dx))
        assert len(found) == 1  # a shift within 1/8 of 16 = 2 pixels, zero-filled


def test_cutout_zeroes_one_square_of_half_the_side_at_most():
    x = torch.ones(64, 1, 16, 16)
    y = cutout(x, gen(1))
    zeros = (y == 0).flatten(1).sum(1)
    assert int(zeros.max()) == 64  # an 8 x 8 square inside the image
    assert int(zeros.min()) > 0  # always something, even when it hangs over the border
    for img in y[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        # the zeroed pixels form one full rectangle (the square clipped by the border)
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert h * w == len(rows) and h <= 8 and w <= 8


def test_color_ranges_and_grey_saturation_is_a_no_op():
    g = torch.full((500, 1, 4, 4), 0.2)
    out = color(g, gen(0))
    shift = out[:, 0, 0, 0] - 0.2
    # a flat image: contrast and saturation leave it flat, brightness adds U(-0.5, 0.5)
    assert float(shift.min()) >= -0.5 and float(shift.max()) <= 0.5
    assert float(shift.std()) == pytest.approx((1 / 12) ** 0.5, rel=0.15)
    assert torch.allclose(out, out[:, :, :1, :1].expand_as(out))


def test_gradients_flow_through_every_transformation():
    x = torch.randn(4, 3, 12, 12, requires_grad=True)
    y = diff_augment(x, parse_policy("color,translation,cutout"), gen(2))
    y.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_the_same_stream_gives_the_same_augmentation():
    x = torch.randn(3, 1, 16, 16)
    pol = parse_policy("color,translation,cutout")
    assert torch.equal(diff_augment(x, pol, gen(5)), diff_augment(x, pol, gen(5)))
    assert not torch.equal(diff_augment(x, pol, gen(5)), diff_augment(x, pol, gen(6)))


def test_policy_names_are_checked():
    assert parse_policy("") == ()
    assert parse_policy(" color , cutout ") == ("color", "cutout")
    with pytest.raises(ConfigError, match="unknown transformation 'flip'"):
        parse_policy("color,flip")


def test_every_d_input_goes_through_t_in_both_steps(monkeypatch, tmp_path):
    """dcgan with the trick: D's real and fake inputs in D's step and the fake in G's step
    are augmented (counted through the transformation), and the run trains."""
    from gankit import api
    from gankit.tricks import diffaugment as da

    calls = []
    real_cutout = da.TRANSFORMS["cutout"]

    def counted(x, rng):
        calls.append(1)
        return real_cutout(x, rng)

    monkeypatch.setitem(da.TRANSFORMS, "cutout", counted)
    overrides = {
        "data.name": "digits", "data.image_size": 8, "model.g_channels": 8,
        "model.d_channels": 8, "train.batch_size": 8, "tricks.diffaugment": "cutout",
        "diagnose.enabled": False, "log.sample_every": 0, "log.progress": False,
    }  # fmt: skip
    api.train("dcgan-digits", tmp_path / "r", steps=2, overrides=overrides)
    assert len(calls) == 2 * 3  # per step: real and fake in D's step, fake in G's step


def test_diffaugment_on_vector_data_is_refused_before_training(tmp_path):
    from gankit import api

    with pytest.raises(ConfigError, match="augments images"):
        api.train(
            "toy-ring", steps=1, out=tmp_path / "r",
            overrides={"tricks.diffaugment": "color", "log.progress": False},
        )  # fmt: skip
    assert not (tmp_path / "r").exists()


def test_a_bad_policy_is_a_config_error():
    from gankit.presets import preset_config

    with pytest.raises(ConfigError, match="diffaugment"):
        preset_config("dcgan-digits", {"tricks.diffaugment": "zoom"})
