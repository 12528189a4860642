"""Paired metrics (PSNR, SSIM, Dice), ``score_pairs`` and the metric registry."""

import math

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)

from gankit.errors import ConfigError, DataError
from gankit.metrics import (
    METRIC_REGISTRY,
    MetricInputs,
    compute_metric,
    dice,
    dice_per_class,
    get_metric,
    metric_rows,
    psnr,
    register_metric,
    score_pairs,
    ssim,
)
from gankit.metrics.conditional import intra_class_fid, matched_accuracy, requested_class_accuracy
from gankit.metrics.evaluate import METRIC_NAMES, parse_metrics
from gankit.metrics.psnr import psnr_per_image
from gankit.metrics.registry import PAIRED_NEEDS, REQUIREMENTS, SAMPLE_SET_NEEDS
from gankit.metrics.ssim import ssim_per_image


def pair_u8(n=6, c=3, h=24, w=20, noise=40, seed=0):
    """Targets and noisy outputs, uint8 (N, C, H, W): correlated, so SSIM is well inside (0, 1)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 256, (n, c, h, w)).astype(np.int64)
    o = np.clip(t + rng.integers(-noise, noise + 1, t.shape), 0, 255)
    return o.astype(np.uint8), t.astype(np.uint8)


def to_float(u8):
    return torch.from_numpy(u8).double() / 127.5 - 1.0


# --- PSNR -------------------------------------------------------------------------------------
def test_psnr_matches_torchmetrics_on_uint8_and_float():
    o, t = pair_u8()
    ref = peak_signal_noise_ratio(
        torch.from_numpy(o).double(),
        torch.from_numpy(t).double(),
        data_range=255.0,
        dim=(1, 2, 3),
        reduction="elementwise_mean",
    ).item()
    # torchmetrics keeps the data range as a float32 tensor: agreement to ~1e-8 relative
    assert psnr(o, t) == pytest.approx(ref, rel=1e-7)
    of, tf = to_float(o), to_float(t)
    ref_f = peak_signal_noise_ratio(of, tf, data_range=2.0, dim=(1, 2, 3)).item()
    assert psnr(of, tf) == pytest.approx(ref_f, rel=1e-7)
    # and in float64 by hand, exactly
    mse = ((o.astype(np.float64) - t) ** 2).reshape(len(o), -1).mean(1)
    assert psnr(o, t) == pytest.approx(np.mean(10 * np.log10(255.0**2 / mse)), rel=1e-12)
    assert psnr(of, tf) == pytest.approx(psnr(o, t), rel=1e-12)
    assert psnr(of.float(), t) == pytest.approx(psnr(o, t), rel=1e-6)  # kinds may be mixed


def test_psnr_closed_forms():
    # float [-1, 1], L = 2: MSE 0.01 -> 10 log10(4 / 0.01)
    target = torch.zeros(3, 1, 8, 8)
    assert psnr(target + 0.1, target) == pytest.approx(10 * math.log10(400.0), rel=1e-6)
    # uint8, L = 255: a difference of 10 everywhere is MSE 100
    t = np.full((2, 3, 5, 5), 100, np.uint8)
    assert psnr(t + np.uint8(10), t) == pytest.approx(10 * math.log10(255**2 / 100), rel=1e-12)
    # identical pairs: +inf, no cap (and the mean with one identical pair is +inf)
    o, t = pair_u8(n=3)
    assert psnr(t, t) == math.inf
    mixed = psnr_per_image(np.concatenate([o[:2], t[2:]]), t)
    assert np.isfinite(mixed[:2]).all() and mixed[2] == math.inf


# --- SSIM -------------------------------------------------------------------------------------
def _torchmetrics_valid_ssim(o, t, data_range):
    """torchmetrics' SSIM map (same settings) on the region where the window fits."""
    _, full = structural_similarity_index_measure(
        o,
        t,
        gaussian_kernel=True,
        sigma=1.5,
        kernel_size=11,
        data_range=data_range,
        k1=0.01,
        k2=0.03,
        return_full_image=True,
    )
    return full[..., 5:-5, 5:-5].flatten(1).mean(1)


def test_ssim_matches_torchmetrics_with_the_same_settings():
    o, t = pair_u8()
    ref = _torchmetrics_valid_ssim(
        torch.from_numpy(o).double(), torch.from_numpy(t).double(), 255.0
    )
    assert ssim_per_image(o, t) == pytest.approx(ref.numpy(), rel=1e-10)
    assert ssim(o, t) == pytest.approx(ref.mean().item(), rel=1e-10)
    # floats in [-1, 1] are the same images: the same SSIM (intensities on [0, 1], L = 1)
    of, tf = to_float(o), to_float(t)
    ref_f = _torchmetrics_valid_ssim((of + 1) / 2, (tf + 1) / 2, 1.0)
    assert ssim(of, tf) == pytest.approx(ref_f.mean().item(), rel=1e-10)
    assert ssim(of, tf) == pytest.approx(ssim(o, t), rel=1e-10)
    assert 0.0 < ssim(o, t) < 1.0


def test_ssim_closed_forms():
    o, t = pair_u8(n=2)
    assert ssim(t, t) == pytest.approx(1.0, abs=1e-12)
    # constant images a, b on [0, 1]: the structure terms are (0 + C2) / (0 + C2) = 1
    a, b, c1 = 0.2, 0.7, (0.01 * 1.0) ** 2
    x = torch.full((2, 3, 16, 16), 2 * a - 1, dtype=torch.float64)
    y = torch.full((2, 3, 16, 16), 2 * b - 1, dtype=torch.float64)
    assert ssim(x, y) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-10)
    # more noise, lower SSIM
    noisier, _ = pair_u8(n=2, noise=120)
    assert ssim(noisier, t) < ssim(o, t)


# --- Dice -------------------------------------------------------------------------------------
def test_dice_on_hand_made_masks():
    pred = np.array([[[1, 1, 0, 0]]])  # (1, 1, 4): |P| = 2
    target = np.array([[[1, 0, 1, 0]]])  # |T| = 2, overlap 1
    assert dice(pred, target) == pytest.approx(0.5)
    assert dice(pred.astype(bool), target.astype(bool)) == pytest.approx(0.5)
    assert dice(target, target) == 1.0
    assert dice(np.zeros((2, 3, 3), int), np.zeros((2, 3, 3), int)) == 1.0  # nothing, agreed
    assert dice(1 - target, target) == 0.0

    # three classes; class 2 predicted 3 times, in the target twice, overlapping once
    p = np.array([[[0, 1, 1, 2], [2, 2, 0, 0]]])
    t = np.array([[[0, 1, 2, 2], [0, 1, 0, 0]]])
    # class 1: P = 2, T = 2, both at (0, 1) -> 2*1/4; class 2: P = 3, T = 2, overlap (0, 3) -> 2/5
    # class 0: P = 3, T = 4, overlap 3 -> 6/7
    assert dice_per_class(p, t) == pytest.approx([6 / 7, 0.5, 0.4])
    assert dice(p, t) == pytest.approx((0.5 + 0.4) / 2)
    assert dice(p, t, include_background=True) == pytest.approx((6 / 7 + 0.5 + 0.4) / 3)
    # a class in neither mask is skipped; (N, 1, H, W) masks are the same as (N, H, W)
    per = dice_per_class(p, t, num_classes=4)
    assert math.isnan(per[3]) and dice(p, t, num_classes=4) == pytest.approx(0.45)
    assert dice(p[:, None], t[:, None]) == dice(p, t)


def test_dice_pools_over_the_set():
    rng = np.random.default_rng(1)
    p, t = rng.integers(0, 4, (7, 9, 9)), rng.integers(0, 4, (7, 9, 9))
    c_p = [np.sum(p == k) for k in range(4)]
    c_t = [np.sum(t == k) for k in range(4)]
    both = [np.sum((p == k) & (t == k)) for k in range(4)]
    expected = np.mean([2 * both[k] / (c_p[k] + c_t[k]) for k in (1, 2, 3)])
    assert dice(p, t) == pytest.approx(expected, rel=1e-12)


# --- batch-size independence ----------------------------------------------------------------
def test_results_do_not_depend_on_batch_size():
    o, t = pair_u8(n=9, h=16, w=16)
    full = score_pairs(o, t, ("psnr", "ssim"))
    for b in (1, 2, 4, 9, 100):
        assert score_pairs(o, t, ("psnr", "ssim"), batch_size=b) == pytest.approx(full, rel=1e-12)
    # the set's value is the mean of its parts' values, weighted by their sizes
    a, b = score_pairs(o[:4], t[:4]), score_pairs(o[4:], t[4:])
    for key in ("psnr", "ssim"):
        assert full[key] == pytest.approx((4 * a[key] + 5 * b[key]) / 9, rel=1e-12)
    rng = np.random.default_rng(2)
    mp, mt = rng.integers(0, 3, (9, 8, 8)), rng.integers(0, 3, (9, 8, 8))
    assert {dice(mp, mt, batch_size=b) for b in (1, 2, 5, 9)} == {dice(mp, mt)}


# --- score_pairs and input errors -----------------------------------------------------------
def test_score_pairs():
    o, t = pair_u8(n=3, h=16, w=16)
    out = score_pairs(o, t)
    assert set(out) == {"psnr", "ssim"}
    assert out == {"psnr": psnr(o, t), "ssim": ssim(o, t)}
    assert score_pairs(o, t, "ssim") == {"ssim": ssim(o, t)}
    masks = (o[:, 0] > 128).astype(np.int64), (t[:, 0] > 128).astype(np.int64)
    assert score_pairs(*masks, metrics=["dice"]) == {"dice": dice(*masks)}


@pytest.mark.parametrize(
    "outputs, targets, metrics, needle",
    [
        (
            np.zeros((2, 3, 16, 16), np.uint8),
            np.zeros((2, 3, 16, 17), np.uint8),
            "psnr",
            r"same shape.*\(2, 3, 16, 16\) and \(2, 3, 16, 17\)",
        ),
        (
            np.zeros((2, 3, 16, 16), np.uint8),
            np.zeros((3, 3, 16, 16), np.uint8),
            "ssim",
            "same shape",
        ),
        (
            np.zeros((2, 16, 16), np.uint8),
            np.zeros((2, 16, 16), np.uint8),
            "psnr",
            r"\(N, C, H, W\).*channel axis",
        ),
        (
            np.zeros((2, 1, 8, 8), np.uint8),
            np.zeros((2, 1, 8, 8), np.uint8),
            "ssim",
            "at least 11x11",
        ),
        (np.full((1, 1, 4, 4), 255.0), np.zeros((1, 1, 4, 4)), "psnr", r"\[-1, 1\]"),
        (np.zeros((1, 1, 4, 4), np.int32), np.zeros((1, 1, 4, 4), np.int32), "psnr", "uint8"),
        (np.full((1, 4, 4), 0.5), np.zeros((1, 4, 4)), "dice", "integer class labels"),
        (np.full((1, 4, 4), -1), np.zeros((1, 4, 4), int), "dice", "negative"),
        (np.zeros((1, 2, 4, 4), int), np.zeros((1, 2, 4, 4), int), "dice", r"\(N, H, W\)"),
    ],
)
def test_bad_inputs_are_clear_data_errors(outputs, targets, metrics, needle):
    with pytest.raises(DataError, match=needle):
        score_pairs(outputs, targets, metrics)


def test_dice_num_classes_must_cover_the_labels():
    with pytest.raises(DataError, match="labels up to 3"):
        dice(np.array([[[0, 3]]]), np.array([[[0, 1]]]), num_classes=3)


# --- the registry ----------------------------------------------------------------------------
def test_every_registered_metric_describes_itself():
    names = METRIC_REGISTRY.names()
    assert {"fid", "kid", "is", "psnr", "ssim", "dice", "mode_coverage", "intra_fid"} <= set(names)
    for name in names:
        spec = get_metric(name)
        assert spec.name == name
        assert spec.description.strip() and "\n" not in spec.description
        assert spec.needs and spec.needs <= set(REQUIREMENTS)
        assert spec.keys and callable(spec.compute) and callable(spec.function)
        assert spec.higher_is_better in (True, False, None)
        assert spec.scores in ("samples", "pairs", "run", "other")
    assert [n for n, _ in metric_rows()] == names
    assert all(d == get_metric(n).description for n, d in metric_rows())
    # who computes what follows from the needs
    assert set(METRIC_NAMES) == {n for n in names if get_metric(n).needs <= SAMPLE_SET_NEEDS}
    paired = {"psnr", "ssim", "dice", "sensitivity", "specificity", "lesion_detection"}
    assert paired == {n for n in names if get_metric(n).needs <= PAIRED_NEEDS}
    assert set(METRIC_NAMES) >= {
        "fid",
        "kid",
        "precision_recall",
        "density_coverage",
        "is",
        "class_coverage",
        "mode_coverage",
        "memorization",
    }


def test_unknown_metric_names_suggest_close_ones():
    with pytest.raises(ConfigError, match=r"unknown metric 'pnsr'.*Did you mean 'psnr'"):
        get_metric("pnsr")
    with pytest.raises(ConfigError, match=r"unknown metric 'ssmi'.*'ssim'"):
        score_pairs(np.zeros((1, 1, 11, 11), np.uint8), np.zeros((1, 1, 11, 11), np.uint8), "ssmi")
    with pytest.raises(ConfigError, match=r"unknown metric 'kdi'.*'kid'"):
        parse_metrics("fid,kdi")


def test_a_metric_is_used_only_where_its_needs_are_met():
    with pytest.raises(ConfigError, match=r"'psnr' needs pairs.*score_pairs"):
        parse_metrics("fid,psnr")
    with pytest.raises(ConfigError, match=r"'fid' needs features.*gankit eval"):
        score_pairs(np.zeros((1, 1, 4, 4), np.uint8), np.zeros((1, 1, 4, 4), np.uint8), "fid")
    with pytest.raises(ConfigError, match=r"'intra_fid' needs features, labels.*intra_class_fid"):
        parse_metrics("intra_fid")
    with pytest.raises(DataError, match=r"'fid' is missing.*features"):
        compute_metric("fid", MetricInputs(features=torch.zeros(4, 2)))


def test_registering_needs_a_description_known_needs_and_a_new_name():
    def adapter(inputs):
        return {}

    with pytest.raises(ValueError, match="needs"):
        register_metric(
            "x", needs={"pictures"}, higher_is_better=True, description="d", keys=("x",)
        )
    with pytest.raises(ValueError, match="description"):
        register_metric("x", needs={"pairs"}, higher_is_better=True, description=" ", keys=("x",))
    with pytest.raises(ValueError, match="registered twice"):
        register_metric(
            "psnr", needs={"pairs"}, higher_is_better=True, description="d", keys=("psnr",)
        )(adapter)


def test_labelled_metrics_through_the_registry():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    real_y, fake_y = np.repeat([0, 1], 20), np.repeat([0, 1], 20)
    probs = np.eye(2)[np.r_[np.zeros(18, int), np.ones(22, int)]]
    inputs = MetricInputs(
        features=fake, ref_features=real, labels=fake_y, ref_labels=real_y, probs=probs
    )
    want = intra_class_fid(real, real_y, fake, fake_y)
    assert compute_metric("intra_fid", inputs) == {
        "intra_fid": want["intra_fid"],
        "intra_fid_per_class": want["per_class"],
    }
    acc = requested_class_accuracy(probs, fake_y)
    assert (
        compute_metric("requested_class_accuracy", inputs)["requested_class_accuracy"]
        == (acc["accuracy"])
    )
    match = matched_accuracy(fake_y, probs.argmax(1))
    assert compute_metric("matched_accuracy", inputs)["matched_accuracy"] == match["accuracy"]
    with pytest.raises(DataError, match="ref_labels"):
        compute_metric("intra_fid", MetricInputs(features=fake, ref_features=real, labels=fake_y))


def test_sample_set_metrics_through_the_registry_equal_their_functions():
    from gankit.metrics import (
        density_coverage,
        fid_from_features,
        inception_score,
        kid,
        memorization,
        mode_coverage,
        precision_recall,
    )

    rng = np.random.default_rng(4)
    fake, real, train = (torch.from_numpy(rng.normal(size=(60, 4))) for _ in range(3))
    probs = torch.softmax(torch.from_numpy(rng.normal(size=(60, 3))), 1)
    centers = np.array([[0.0, 0.0], [3.0, 3.0]])
    inputs = MetricInputs(
        features=fake,
        ref_features=real,
        probs=probs,
        samples=fake[:, :2],
        centers=centers,
        std=0.5,
        train_features=lambda: train,
        chosen=("precision_recall",),
    )
    assert compute_metric("fid", inputs) == {"fid": fid_from_features(fake, real)}
    assert compute_metric("kid", inputs) == dict(zip(("kid", "kid_std"), kid(fake, real)))
    assert compute_metric("precision_recall", inputs) == precision_recall(real, fake)
    assert compute_metric("density_coverage", inputs) == {}  # chosen with precision_recall
    assert compute_metric("density_coverage", MetricInputs(features=fake, ref_features=real)) == (
        density_coverage(real, fake)
    )
    assert compute_metric("is", inputs) == dict(zip(("is", "is_std"), inception_score(probs)))
    assert compute_metric("mode_coverage", inputs) == mode_coverage(fake[:, :2], centers, 0.5)
    mem = memorization(fake, train, real)
    assert compute_metric("memorization", inputs) == {f"mem_{k}": v for k, v in mem.items()}
    for name in ("fid", "kid", "is", "mode_coverage", "memorization"):
        assert set(compute_metric(name, inputs)) == set(get_metric(name).keys)


# --- super-resolution conventions: border crop and the Y channel, against scikit-image ---------
def _skimage_y(u8):
    """(N, 3, H, W) uint8 -> (N, H, W) float Y on 16..235 by scikit-image's rgb2ycbcr."""
    from skimage.color import rgb2ycbcr

    return np.stack([rgb2ycbcr(im.transpose(1, 2, 0))[..., 0] for im in u8])


def test_psnr_on_y_channel_with_crop_matches_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio as sk_psnr

    o, t = pair_u8(n=4, c=3, h=30, w=26, seed=3)
    crop = 4
    yo, yt = _skimage_y(o), _skimage_y(t)
    want = np.mean([
        sk_psnr(a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop], data_range=255.0)
        for a, b in zip(yt, yo)
    ])  # fmt: skip
    assert psnr(o, t, crop=crop, y_channel=True) == pytest.approx(want, rel=1e-9)
    # the same through the registry and score_pairs
    got = score_pairs(o, t, "psnr", crop=crop, y_channel=True)["psnr"]
    assert got == pytest.approx(want, rel=1e-9)
    # and it differs from the RGB / uncropped figures, so the options do something
    assert abs(psnr(o, t) - want) > 0.1


def test_ssim_on_y_channel_with_crop_matches_scikit_image():
    from skimage.metrics import structural_similarity as sk_ssim

    o, t = pair_u8(n=3, c=3, h=32, w=28, seed=4)
    crop = 2
    yo, yt = _skimage_y(o) / 255.0, _skimage_y(t) / 255.0
    want = np.mean([
        sk_ssim(
            a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop], data_range=1.0,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )
        for a, b in zip(yt, yo)
    ])  # fmt: skip
    assert ssim(o, t, crop=crop, y_channel=True) == pytest.approx(want, abs=1e-9)
    assert score_pairs(o, t, "ssim", crop=crop, y_channel=True)["ssim"] == pytest.approx(
        want, abs=1e-9
    )


def test_grey_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity as sk_ssim

    o, t = pair_u8(n=3, c=1, h=28, w=28, seed=5)
    want = np.mean([
        sk_ssim(a[0] / 255.0, b[0] / 255.0, data_range=1.0, gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False)
        for a, b in zip(t, o)
    ])  # fmt: skip
    # y_channel leaves grey images as they are
    assert ssim(o, t, y_channel=True) == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("crop", [-1, 12, 1.5, True])
def test_a_bad_crop_is_one_clear_error(crop):
    o, t = pair_u8(n=2, c=1, h=24, w=24)
    with pytest.raises(DataError, match="crop"):
        psnr(o, t, crop=crop)
