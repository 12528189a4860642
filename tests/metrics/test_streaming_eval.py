"""Streaming evaluation: ``evaluate`` reads samples chunk by chunk and keeps only features,
with every value identical to scoring all the samples at once (issue 19, item 6)."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from tests.conftest import TINY_DCGAN, TINY_TOY

from gankit import api
from gankit.data import from_unit_range, load_dataset
from gankit.errors import DataError
from gankit.metrics import evaluate as ev_mod
from gankit.metrics.classifier import train_classifier
from gankit.metrics.evaluate import (
    STREAM_CHUNK,
    Evaluator,
    evaluate,
    load_reference,
    load_source,
    open_source,
    rebatch,
    resolve_extractor,
)
from gankit.presets import preset_config
from gankit.runs import load_generator

IMAGE_METRICS = "fid,kid,prdc,is,class_coverage,memorization"


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(root))
        train_classifier("digits", epochs=3, progress=False)
        yield root


@pytest.fixture
def cache(digits_cache, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(digits_cache))
    return digits_cache


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "dc"
    return api.train(preset_config("dcgan-digits", TINY_DCGAN), out, steps=3).path


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ring"
    return api.train(preset_config("toy-ring", TINY_TOY), out, steps=5).path


def plain(source, reference, metrics, n, seed=0, batch_size=250, extractor="auto"):
    """Today's all-in-memory way: every sample in one tensor, then ``Evaluator.score``."""
    samples, cfg = load_source(source, n, seed)
    ref = load_reference(reference, cfg, n)
    ex = resolve_extractor(extractor, ref.dataset.kind, ref.dataset.name)
    ev = Evaluator(ref, ex, metrics.split(",") if metrics else None, n=n, batch_size=batch_size)
    return {"n": int(samples.x.shape[0]), **ev.score(samples.x)}


def streamed(source, reference, metrics, n, **kw):
    out = evaluate(source, reference, metrics=metrics, n=n, **kw)
    return {k: v for k, v in out.items() if k not in ("source", "reference", "extractor")}


def test_rebatch_cuts_where_slicing_the_whole_would():
    whole = torch.arange(21).reshape(21, 1)
    chunks = [whole[:3], whole[3:13], whole[13:14], whole[14:21]]
    got = list(rebatch(chunks, 4))
    assert [len(b) for b in got] == [4, 4, 4, 4, 4, 1]
    assert all(torch.equal(a, b) for a, b in zip(got, whole.split(4), strict=True))
    assert list(rebatch([], 4)) == []


def test_chunked_sampling_equals_one_sample_call(digits_run, ring_run):
    for path in (digits_run, ring_run):
        G = load_generator(path)
        whole = G.sample(2 * STREAM_CHUNK + 123, seed=5)
        stream, _ = open_source(path, 2 * STREAM_CHUNK + 123, seed=5)
        parts = list(stream.chunks())
        assert [len(p) for p in parts] == [STREAM_CHUNK, STREAM_CHUNK, 123]
        assert torch.equal(torch.cat(parts), whole)
        # and the generator's own chunks, at any batch size, are its sample() at that size
        assert torch.equal(torch.cat(list(G.sample_chunks(250, 3, 64))), G.sample(250, 3, 64))


def test_run_source_streamed_equals_all_in_memory(cache, digits_run):
    # n over one chunk, and an extractor batch (7) that does not divide the chunk (1000)
    n = STREAM_CHUNK + 200
    a = streamed(digits_run, None, IMAGE_METRICS, n, seed=2, batch_size=7)
    b = plain(digits_run, None, IMAGE_METRICS, n, seed=2, batch_size=7)
    assert (
        a == b and a["n"] == n and {"fid", "kid", "precision", "is", "mem_copy_fraction"} <= set(a)
    )


def test_toy_run_keeps_its_vectors_for_mode_coverage(cache, ring_run):
    a = streamed(ring_run, None, None, STREAM_CHUNK + 50)
    b = plain(ring_run, None, None, STREAM_CHUNK + 50)
    assert a == b and "modes_captured" in a


@pytest.mark.filterwarnings("ignore:FID from")
def test_file_and_folder_sources_streamed_equal_all_in_memory(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(ev_mod, "STREAM_CHUNK", 64)  # several chunks of a small file
    u8 = from_unit_range(load_dataset("digits", split="train").x[:300]).numpy()  # (300,1,8,8)
    np.save(tmp_path / "u8.npy", u8)
    np.save(tmp_path / "nhwc.npy", u8.transpose(0, 2, 3, 1))
    np.save(tmp_path / "hw.npy", u8[:, 0])
    np.save(tmp_path / "f32.npy", u8.astype(np.float32) / 127.5 - 1)
    np.savez(tmp_path / "s.npz", x=u8, y=np.zeros(300, dtype=np.int64))
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, img in enumerate(u8[:150]):
        Image.fromarray(img[0]).save(folder / f"{i:04d}.png")
    for name in ("u8.npy", "nhwc.npy", "hw.npy", "f32.npy", "s.npz", "pngs"):
        for n in (130, 1000):  # a fixed-seed subset of the file, and all of it
            a = streamed(tmp_path / name, "digits:test", IMAGE_METRICS, n, batch_size=50)
            b = plain(tmp_path / name, "digits:test", IMAGE_METRICS, n, batch_size=50)
            assert a == b, (name, n)
    # in-memory arrays and tensors stream too
    for x in (u8, torch.from_numpy(u8), torch.from_numpy(u8).float() / 127.5 - 1):
        a = streamed(x, "digits:test", "fid,kid,is", 200)
        assert a == plain(x, "digits:test", "fid,kid,is", 200)


def test_vector_file_streamed_equals_all_in_memory(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(ev_mod, "STREAM_CHUNK", 64)
    pts = load_dataset("ring", split="train", n_samples=500).x.numpy()
    np.save(tmp_path / "pts.npy", pts)
    a = streamed(tmp_path / "pts.npy", "ring", None, 400)
    assert a == plain(tmp_path / "pts.npy", "ring", None, 400)
    assert a["modes_captured"] == 8


def test_image_samples_are_not_held_vectors_are(cache, digits_run, ring_run, monkeypatch):
    seen = []
    real = ev_mod.compute_metric
    monkeypatch.setattr(
        ev_mod, "compute_metric", lambda m, inputs: seen.append(inputs.samples) or real(m, inputs)
    )
    evaluate(digits_run, metrics="fid,is", n=300)
    assert seen and all(s is None for s in seen)
    seen.clear()
    evaluate(ring_run, metrics="mode_coverage,fid", n=300)
    assert seen[0] is not None and torch.equal(seen[0], load_generator(ring_run).sample(300, 0))


def test_npy_is_read_through_a_memory_map(cache, tmp_path, monkeypatch):
    u8 = from_unit_range(load_dataset("digits", split="test").x[:200]).numpy()
    np.save(tmp_path / "s.npy", u8)
    whole = load_source(tmp_path / "s.npy", 150)[0].x
    modes = []
    real = np.load

    def spy(*a, **kw):
        modes.append(kw.get("mmap_mode"))
        return real(*a, **kw)

    monkeypatch.setattr(np, "load", spy)
    monkeypatch.setattr(ev_mod, "load_dataset", lambda name, **kw: pytest.fail(f"read {name}"))
    stream, _ = open_source(tmp_path / "s.npy", 150)
    assert modes == ["r"] and stream.n == 150 and stream.kind == "image"
    assert torch.equal(stream.collect().x, whole)


@pytest.mark.parametrize(
    "write, needle",
    [
        (lambda p: p.write_bytes(pickle.dumps([1, 2, 3])), "not a .npy/.npz file"),
        (lambda p: np.save(p, np.zeros((4, 2), dtype=np.int32)), "int32"),
        (lambda p: np.save(p, np.full((4, 1, 8, 8), 3.0, dtype=np.float32)), "scaled to"),
        (lambda p: np.save(p, np.array([[np.nan, 0.0]], dtype=np.float32)), "NaN"),
    ],
)
def test_bad_files_keep_the_loaders_errors(cache, tmp_path, write, needle):
    path = tmp_path / "bad.npy"
    write(path)
    with pytest.raises(DataError, match=needle):
        evaluate(path, "digits:test", metrics="fid", n=10)
    with pytest.raises(DataError, match=needle):
        load_source(path, 10)


def test_score_stream_of_plain_chunks_equals_score(cache):
    x = load_dataset("digits", split="test").x[:300]
    ref = load_reference("digits:train", None, 300)
    ev = Evaluator(ref, resolve_extractor("auto", "image", "digits"), ["fid", "is"], n=300)
    chunks = (x[s : s + 77] for s in range(0, 300, 77))
    assert ev.score_stream(chunks, kind="image") == ev.score(x)
    with pytest.raises(DataError, match="vectors but the reference holds images"):
        ev.score_stream([torch.zeros(3, 2)], kind="vector")
