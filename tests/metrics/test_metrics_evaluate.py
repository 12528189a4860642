"""``evaluate``: sources, reference specs, the reference-statistics cache, metric wiring."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from tests.conftest import TINY_DCGAN, TINY_TOY

from gankit import api
from gankit.data import from_unit_range, load_dataset
from gankit.errors import ConfigError, DataError
from gankit.metrics.classifier import train_classifier
from gankit.metrics.evaluate import evaluate, parse_metrics, refstats_path
from gankit.presets import preset_config


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(root))
        train_classifier("digits", epochs=3, progress=False)
        yield root
    torch.set_num_threads(threads)


@pytest.fixture
def cache(digits_cache, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(digits_cache))
    return digits_cache


@pytest.fixture(scope="module")
def digits_test_u8():
    return from_unit_range(load_dataset("digits", split="test").x).numpy()  # (360, 1, 8, 8)


def test_parse_metrics():
    assert parse_metrics("fid, prdc,fid") == ["fid", "precision_recall", "density_coverage"]
    assert parse_metrics("") is None and parse_metrics(None) is None
    with pytest.raises(ConfigError, match="unknown metric 'kdi'.*'kid'"):
        parse_metrics("fid,kdi")


def test_npy_npz_and_folder_sources_agree(cache, tmp_path, digits_test_u8):
    x = digits_test_u8[:150]
    np.save(tmp_path / "s.npy", x)
    np.savez(tmp_path / "s.npz", x=x)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, img in enumerate(x):
        Image.fromarray(img[0]).save(folder / f"{i:04d}.png")
    results = [
        evaluate(tmp_path / name, "digits:train", metrics="fid,kid,prdc", n=150)
        for name in ("s.npy", "s.npz", "pngs")
    ]
    keys = ("fid", "kid", "precision", "recall", "density", "coverage")
    for r in results[1:]:
        assert {k: r[k] for k in keys} == {k: results[0][k] for k in keys}
    assert results[0]["reference"] == "digits:train" and results[0]["n"] == 150
    assert results[0]["extractor"] == "domain:digits"


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # 5 distinct images: rank-deficient
def test_default_image_metrics_and_sanity_order(cache, tmp_path, digits_test_u8):
    np.save(tmp_path / "real.npy", digits_test_u8)
    noise = np.random.default_rng(0).integers(0, 256, digits_test_u8.shape, dtype=np.uint8)
    np.save(tmp_path / "noise.npy", noise)
    collapsed = np.repeat(digits_test_u8[:5], 72, axis=0)  # 5 images, 360 samples
    np.save(tmp_path / "collapsed.npy", collapsed)
    real = evaluate(tmp_path / "real.npy", "digits:train", n=360)
    assert {
        "fid",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "is",
        "is_std",
        "classes_covered",
        "num_classes",
        "class_kl",
    } <= set(real)
    assert real["classes_covered"] == 10 and real["num_classes"] == 10
    bad = evaluate(tmp_path / "noise.npy", "digits:train", n=360)
    few = evaluate(tmp_path / "collapsed.npy", "digits:train", n=360)
    assert real["fid"] < few["fid"] and real["fid"] < bad["fid"]
    assert real["recall"] > few["recall"] and few["classes_covered"] <= 5
    assert real["is"] > few["is"]


def test_reference_stats_are_cached_under_fingerprint_extractor_and_n(
    cache, tmp_path, digits_test_u8
):
    np.save(tmp_path / "s.npy", digits_test_u8[:100])
    first = evaluate(tmp_path / "s.npy", "digits:train", metrics="fid", n=100)
    files = list((cache / "refstats").glob("*.safetensors"))
    assert files
    ref = load_dataset("digits", split="train")
    key = {
        "format": "gankit-refstats-1",
        "fingerprint": ref.fingerprint(),
        "extractor": first["extractor"],
        "n": 100,
        "subset_seed": 0,
    }
    from gankit.metrics.extractors import build_extractor

    key["extractor"] = build_extractor("domain:digits").cache_id
    path = refstats_path(key)
    assert path in files
    # The cached entry is what the next call uses: shift it and the FID moves.
    stored = load_file(str(path))
    meta = json.loads(
        json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])[
            "__metadata__"
        ]["key"]
    )
    assert meta == key
    stored["mean"] = stored["mean"] + 1.0
    save_file(stored, str(path), metadata={"key": json.dumps(key, sort_keys=True)})
    second = evaluate(tmp_path / "s.npy", "digits:train", metrics="fid", n=100)
    assert second["fid"] > first["fid"] + 50
    fresh = evaluate(tmp_path / "s.npy", "digits:train", metrics="fid", n=100, use_cache=False)
    assert fresh["fid"] == pytest.approx(first["fid"], rel=1e-9)
    # Another n is another entry.
    evaluate(tmp_path / "s.npy", "digits:train", metrics="fid", n=90)
    assert refstats_path({**key, "n": 90}).is_file()


def test_batch_size_does_not_change_results(cache, tmp_path, digits_test_u8):
    np.save(tmp_path / "s.npy", digits_test_u8[:200])
    kw = dict(metrics="fid,kid,prdc,is", n=200, use_cache=False)
    a = evaluate(tmp_path / "s.npy", "digits:train", batch_size=7, **kw)
    b = evaluate(tmp_path / "s.npy", "digits:train", batch_size=200, **kw)
    for k in ("fid", "kid", "is"):
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9)
    for k in ("precision", "recall", "density", "coverage"):
        assert a[k] == b[k]


def test_memorization_flags_copies_of_the_training_set(cache, tmp_path):
    train = from_unit_range(load_dataset("digits", split="train").x[:300]).numpy()
    np.save(tmp_path / "copies.npy", train)
    copies = evaluate(tmp_path / "copies.npy", "digits:test", metrics="memorization", n=300)
    # Exact copies: distance 0 up to float32 round-off of the |a|^2 + |b|^2 - 2ab expansion.
    assert copies["mem_copies_training_set"] is True and copies["mem_median_ratio"] < 0.01
    np.save(tmp_path / "fresh.npy", from_unit_range(load_dataset("digits", split="test").x).numpy())
    fresh = evaluate(tmp_path / "fresh.npy", "digits:test", metrics="memorization", n=360)
    assert fresh["mem_copies_training_set"] is False and fresh["mem_median_ratio"] > 0.5


def test_toy_run_source_gets_mode_coverage(cache, tmp_path):
    cfg = preset_config("toy-ring", TINY_TOY)
    run = api.train(cfg, tmp_path / "ring", steps=10)
    out = evaluate(run.path, n=300)
    assert out["reference"] == "ring:test (the run's data)" and out["extractor"] == "raw"
    assert out["num_modes"] == 8 and 0 <= out["modes_captured"] <= 8
    assert {"fid", "kid", "precision", "recall", "density", "coverage"} <= set(out)
    assert "is" not in out  # no classifier on raw coordinates
    # Samples drawn by seed: the same seed gives the same numbers.
    assert evaluate(run.path, n=300)["fid"] == out["fid"]
    # A perfect "generator": the ring's own points capture every mode.
    pts = load_dataset("ring", split="train", n_samples=300).x.numpy()
    np.save(tmp_path / "pts.npy", pts)
    real = evaluate(tmp_path / "pts.npy", "ring", n=300)
    # 3 std in 2-D holds 1 - exp(-4.5) = 98.9% of a Gaussian's mass.
    assert real["modes_captured"] == 8 and real["high_quality_fraction"] > 0.95


def test_image_run_source_with_the_domain_classifier(cache, tmp_path):
    cfg = preset_config("dcgan-digits", TINY_DCGAN)
    run = api.train(cfg, tmp_path / "dc", steps=5)
    out = evaluate(run.path, n=200, metrics="fid,is,class_coverage,memorization")
    assert out["reference"] == "digits:test (the run's data)"  # loaded at the run's 8x8 size
    assert 1.0 <= out["is"] <= 10.0 and 1 <= out["classes_covered"] <= 10
    assert out["fid"] > 0 and "mem_copy_fraction" in out


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        (dict(reference=None), ConfigError, "give --reference"),
        (dict(reference="nowhere:test"), ConfigError, "unknown reference"),
        (dict(reference="ring"), DataError, "images but the reference holds vectors"),
        (dict(reference="digits", metrics="mode_coverage"), ConfigError, "Gaussian-mixture"),
        (dict(reference="digits", metrics="is", extractor="raw"), ConfigError, "classifier"),
        (dict(reference="digits", extractor="auto", n=0), ConfigError, "at least 1"),
    ],
)
def test_user_errors(cache, tmp_path, digits_test_u8, kwargs, error, needle):
    np.save(tmp_path / "s.npy", digits_test_u8[:50])
    with pytest.raises(error, match=needle):
        evaluate(tmp_path / "s.npy", **{"n": 50, **kwargs})


def test_memorization_without_train_split_is_a_clear_error(cache, tmp_path, digits_test_u8):
    np.save(tmp_path / "s.npy", digits_test_u8[:50])
    with pytest.raises(ConfigError, match="memorization needs"):
        evaluate(
            tmp_path / "s.npy",
            tmp_path / "s.npy",
            metrics="memorization",
            n=50,
            extractor="domain:digits",
        )


def test_folder_reference_needs_an_explicit_extractor(cache, tmp_path, digits_test_u8, monkeypatch):
    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)
    np.save(tmp_path / "s.npy", digits_test_u8[:50])
    with pytest.raises(ConfigError, match="--extractor"):
        evaluate(tmp_path / "s.npy", tmp_path / "s.npy", n=50)
    out = evaluate(
        tmp_path / "s.npy", tmp_path / "s.npy", n=50, extractor="domain:digits", metrics="fid"
    )
    assert out["fid"] == pytest.approx(0.0, abs=1e-6)


def test_evaluation_modules_never_import_training():
    import subprocess
    import sys

    code = (
        "import sys; import gankit.metrics.evaluate, gankit.metrics.callback, "
        "gankit.metrics.inception, gankit.cli.eval; "
        "bad = [m for m in sys.modules if m.startswith('gankit.training')]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
