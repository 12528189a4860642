"""Text-to-image (issue 17): the caption recipe, the cached caption encoder, users' captioned
folders, gan-int-cls's terms and the --text command line, on scikit-learn's digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.data import load_dataset
from gankit.data.captions import CAPTIONS_PER_IMAGE
from gankit.errors import ConfigError, DataError
from gankit.presets import preset_config
from gankit.runs import load_generator
from gankit.text import embed_captions
from gankit.text.captions import (
    DIGITS,
    FASHION,
    attribute_codes,
    draw_captions,
    measure,
    thresholds,
)
from gankit.text.encoder import (
    CLASS_WEIGHT,
    TAU,
    dataset_encoder,
    encoder_dir,
    load_cached,
    matching_loss,
    structured_loss,
)
from gankit.text.typed import encode_captions
from gankit.variants.base import StepContext
from gankit.variants.stackgan import step_text

TINY = {
    "train.steps": 6,
    "train.batch_size": 16,
    "model.g_channels": 8,
    "model.d_channels": 8,
    "log.progress": False,
    "log.stats_every": 1,
    "log.checkpoint_every": 3,
    "log.sample_every": 3,
    "log.n_fixed": 16,
    "diagnose.enabled": False,
    "eval.metrics": "",
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A tiny gan-int-cls run on digits-captions."""
    out = tmp_path_factory.mktemp("gic") / "run"
    api.train(preset_config("gan-int-cls-digits", TINY), out)
    return out


def _fake_fashion(n_per_class: int = 30, seed: int = 0):
    """Images whose brightness and size are known: class k, a square of a drawn side and
    grey level."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for k in range(10):
        for _ in range(n_per_class):
            im = np.zeros((28, 28), np.uint8)
            side, level = int(rng.integers(6, 24)), int(rng.integers(60, 255))
            im[2 : 2 + side, 2 : 2 + side] = level
            images.append(im)
            labels.append(k)
    return np.stack(images), np.array(labels)


def test_captions_follow_the_recipe():
    images, labels = _fake_fashion()
    values = measure(FASHION, images)
    codes = attribute_codes(values, labels, thresholds(values, labels, 10))
    texts, stated = draw_captions(FASHION, labels, codes, seed=3)
    texts2, stated2 = draw_captions(FASHION, labels, codes, seed=3)
    assert texts == texts2 and np.array_equal(stated, stated2)  # deterministic
    assert len(set(texts)) > 50  # several phrasings and attribute words
    bright, area = values["b"], values["s"]
    for i, text in enumerate(texts):
        assert FASHION.class_words[labels[i]] in text
        # a stated word is the image's measured third of its class
        if " dark " in f" {text} ":
            assert codes["b"][i] == -1 and stated[i, 0] == -1
        if " light " in f" {text} ":
            assert codes["b"][i] == 1
        if " large" in text:
            assert codes["s"][i] == 1
    dark = [i for i, t in enumerate(texts) if " dark " in f" {t} "]
    light = [i for i, t in enumerate(texts) if " light " in f" {t} "]
    assert bright[dark].mean() < bright[light].mean()
    assert area[codes["s"] == -1].mean() < area[codes["s"] == 1].mean()
    # "an" before a vowel, never "a ankle"
    assert not any(" a ankle" in f" {t}" for t in texts)
    # held-out phrasings and held-out (class, word, word) combinations never occur
    held = {"picture of a {c} that is {b}", "photo of a {c} that is {s}", "{c}, {s} and {b}"}
    assert held == set(FASHION.held_out_templates)
    assert not any(" that is " in t and t.startswith(("picture", "photo")) for t in texts)
    for c, a, b in FASHION.held_out_combos:
        assert not any(c in t and f" {a} " in f" {t} " and f" {b} " in f" {t} " for t in texts)


def test_each_image_has_several_captions_of_its_own():
    data = load_dataset("digits-captions")
    texts, text = data.fields["texts"], data.fields["text"]
    assert texts.shape[:2] == (len(data.x), CAPTIONS_PER_IMAGE)
    assert torch.equal(texts[:, 0], text)  # draw 0 is the fixed caption
    # the draws differ within an image (several phrasings), and every draw names the
    # image's own class: its embedding is nearer its class's captions than other classes'
    assert (texts[:, 1:] - texts[:, :1]).abs().amax((1, 2)).gt(1e-6).float().mean() > 0.5
    enc = dataset_encoder(data)
    words = [f"a {w}" for w in DIGITS.class_words]
    classes = (texts @ encode_captions(enc, words, warn=False).T).argmax(-1)
    assert (classes == data.y[:, None]).float().mean() > 0.9


def _step_ctx(texts, seed):
    rng = torch.Generator().manual_seed(seed)
    text = texts[:, 0]
    return StepContext(nets={}, real=None, labels=None, batch_size=len(texts), step=0,
                       sample_z=None, rng=rng, batch={"text": text, "texts": texts})  # fmt: skip


def test_step_text_draws_captions_from_the_saved_stream():
    texts = torch.arange(4 * 5 * 3, dtype=torch.float32).view(4, 5, 3)
    a, b = step_text(_step_ctx(texts, 0), 1), step_text(_step_ctx(texts, 0), 1)
    assert torch.equal(a, b)  # the stream decides: resume replays it
    rows = [(a[i, None] == texts[i]).all(1).nonzero().flatten().tolist() for i in range(4)]
    assert all(len(r) == 1 for r in rows)  # one of the item's own captions, not another's
    picks = {tuple(step_text(_step_ctx(texts, s), 1)[:, 0].tolist()) for s in range(20)}
    assert len(picks) > 5  # different seeds pick different captions
    ctx = _step_ctx(texts, 3)
    mean = step_text(ctx, 4)
    ctx.rng.manual_seed(3)
    pick = torch.randint(5, (4, 4), generator=ctx.rng)
    assert torch.allclose(mean, torch.stack([texts[i, pick[i]].mean(0) for i in range(4)]))
    assert torch.equal(step_text(_step_ctx(texts, 0), 0), texts[:, 0])  # 0: the fixed caption
    ctx = _step_ctx(texts, 0)
    del ctx.batch["texts"]  # one embedding per image (a user's embeddings.npy)
    assert torch.equal(step_text(ctx, 2), texts[:, 0])


def test_encoder_objective_adds_a_class_level_term():
    gen = torch.Generator().manual_seed(0)
    t = torch.nn.functional.normalize(torch.randn(6, 4, generator=gen), dim=1)
    v = torch.nn.functional.normalize(torch.randn(6, 4, generator=gen), dim=1)
    tk = torch.tensor([[1, 0], [1, 2], [2, 1], [2, 0], [3, 1], [3, 2]])
    ik = torch.tensor([[1, 1], [1, 2], [2, 1], [2, 2], [3, 1], [3, 2]])
    full, cls = structured_loss(t, v, tk, ik), structured_loss(t, v, tk[:, :1], ik[:, :1])
    assert not torch.isclose(full, cls)  # the attribute column changes who is a partner
    assert torch.isclose(matching_loss(t, v, tk, ik), full + CLASS_WEIGHT * cls)
    ids = torch.arange(1, 7)[:, None]  # a folder's captions: partner ids (0: any), no class
    assert torch.isclose(matching_loss(t, v, ids, ids), structured_loss(t, v, ids, ids))
    # by hand for the id case: each text's partner is its own image
    s = t @ v.T / TAU
    by_hand = -0.5 * (s.log_softmax(1).diag().mean() + s.log_softmax(0).diag().mean())
    assert torch.isclose(structured_loss(t, v, ids, ids), by_hand)


def test_caption_draws_is_checked():
    with pytest.raises(ConfigError, match="caption_draws=-1 must be >= 0"):
        preset_config("gan-int-cls-digits", {"options.caption_draws": -1})


def test_encoder_is_cached_and_a_damaged_cache_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    data = load_dataset("digits-captions")
    ref = data.info["text_encoder"]
    folder = encoder_dir("digits-captions")
    record = json.loads((folder / f"{ref['key']}.json").read_text())
    assert record["epochs"] >= 2 and "seven" in record["vocab"]
    again = load_dataset("digits-captions")  # same key: read from the cache, same embeddings
    assert again.info == data.info and torch.equal(again.fields["text"], data.fields["text"])
    # captions name their digit: nearest class-only caption is the right class (test split)
    test = load_dataset("digits-captions", split="test")
    enc = dataset_encoder(test)
    anchors = embed_captions(enc, [f"a {w}" for w in DIGITS.class_words], warn=False)
    assert ((test.fields["text"] @ anchors.T).argmax(1) == test.y).float().mean() > 0.9
    weights = folder / f"{ref['key']}.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"damaged!")
    with pytest.raises(DataError, match="damaged.*text-encoder train --force"):
        load_cached(folder, ref["key"])


def _captioned_folder(root, n=12, how="txt"):
    root.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        name = f"im{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(root / name)
        caption = ["a red bag", "a blue shoe"][i % 2]
        if how == "txt":
            (root / f"im{i:02d}.txt").write_text(caption + "\n")
        else:
            lines.append(json.dumps({"file": name, "captions": [caption, caption + " again"]}))
    if how == "jsonl":
        (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("how", ["txt", "jsonl"])
def test_caption_folder_reads_captions(tmp_path, monkeypatch, how):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    root = _captioned_folder(tmp_path / "data", how=how)
    data = load_dataset("caption-folder", root=root)
    assert data.x.shape == (12, 1, 16, 16) and data.fields["text"].shape[0] == 12
    assert data.fields["texts"].shape[:2] == (12, CAPTIONS_PER_IMAGE)
    enc = dataset_encoder(data)
    assert {"red", "bag", "blue", "shoe"} <= set(enc.vocab)
    # same caption, same embedding; different captions differ
    t = data.fields["text"]
    assert torch.allclose(t[0], t[2]) and not torch.allclose(t[0], t[1])


def test_caption_folder_bad_input_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    root = _captioned_folder(tmp_path / "a")
    (root / "im03.txt").unlink()
    with pytest.raises(DataError, match=r"im03.png has no caption: add im03.txt"):
        load_dataset("caption-folder", root=root)
    root = _captioned_folder(tmp_path / "b", how="jsonl")
    with (root / "captions.jsonl").open("a") as f:
        f.write(json.dumps({"file": "gone.png", "captions": ["a cat"]}) + "\n")
    with pytest.raises(DataError, match=r"names 1 image\(s\) not in .*'gone.png'"):
        load_dataset("caption-folder", root=root)
    (root / "captions.jsonl").write_text("not json\n")
    with pytest.raises(DataError, match="line 1 is not"):
        load_dataset("caption-folder", root=root)
    root = _captioned_folder(tmp_path / "c")
    np.save(root / "embeddings.npy", np.zeros((5, 8), np.float32))
    with pytest.raises(DataError, match=r"one row per image \(12, E\)"):
        load_dataset("caption-folder", root=root)


def test_precomputed_embeddings_train_but_refuse_typed_text(tmp_path):
    root = _captioned_folder(tmp_path / "data", n=20)
    emb = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    np.save(root / "embeddings.npy", emb)
    cfg = preset_config("gan-int-cls-folder", {**TINY, "data.root": str(root),
                                                "data.image_size": 16})  # fmt: skip
    api.train(cfg, tmp_path / "run")
    G = load_generator(tmp_path / "run")
    assert G.sample(4, seed=0, text=torch.from_numpy(emb[:1])).shape == (4, 1, 16, 16)
    with pytest.raises(Exception, match="precomputed text embeddings"):
        G.embed(["a red bag"])


def test_gan_int_cls_terms_follow_the_switches(tmp_path):
    stats = {}
    for name, over in {
        "int_cls": {},
        "gan": {"options.matching_aware": False, "options.interpolation": False},
    }.items():
        api.train(preset_config("gan-int-cls-digits", {**TINY, **over}), tmp_path / name)
        rows = [json.loads(s) for s in (tmp_path / name / "stats.jsonl").read_text().split("\n")
                if s.strip()]  # fmt: skip
        stats[name] = set().union(*(r.keys() for r in rows))
    assert "loss/g_int_adv" in stats["int_cls"] and "D(x, wrong text)" in stats["int_cls"]
    assert "loss/g_int_adv" not in stats["gan"] and "D(x, wrong text)" not in stats["gan"]


def test_text_changes_samples_and_is_reproducible(text_run):
    G = load_generator(text_run)
    a, b = G.embed(["a thick seven"]), G.embed(["a thin one"])
    x1, x2 = G.sample(8, seed=1, text=a), G.sample(8, seed=1, text=a)
    assert torch.equal(x1, x2)
    assert not torch.equal(x1, G.sample(8, seed=1, text=b))
    assert G.sample(8, seed=1).shape == x1.shape  # no caption: training captions drawn


def test_sample_and_interpolate_commands(text_run, tmp_path, capsys):
    out = tmp_path / "sevens.png"
    assert main(["sample", str(text_run), "--text", "a thick seven", "--n", "8",
                 "--out", str(out)]) == 0  # fmt: skip
    assert Image.open(out).size[0] > 16
    npy = tmp_path / "s.npy"
    assert main(["sample", str(text_run), "--text", "a seven and a dog", "--n", "4",
                 "--out", str(npy)]) == 0  # fmt: skip
    assert np.load(npy).shape == (4, 1, 16, 16)
    assert "unknown words ignored: 'and', 'dog'" in capsys.readouterr().err
    walk = tmp_path / "walk.png"
    assert main(["interpolate", str(text_run), "--text", "a one", "--to-text", "a seven",
                 "--rows", "2", "--steps", "4", "--out", str(walk)]) == 0  # fmt: skip
    assert walk.is_file()


def test_bad_captions_are_one_line(text_run, tmp_path, capsys):
    plain = tmp_path / "plain"
    cfg = preset_config("dcgan-digits", {**TINY, "data.image_size": 8, "model.z_dim": 8})
    api.train(cfg, plain)
    out = str(tmp_path / "x.png")
    cases = [
        ([str(text_run), "--text", ""], "is empty"),
        ([str(text_run), "--text", "purple zebra"], "no word this text encoder knows"),
        ([str(plain), "--text", "a seven"], "not text-conditioned"),
    ]
    for args, message in cases:
        assert main(["sample", *args, "--out", out]) != 0
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert main(["interpolate", str(text_run), "--to-text", "a one", "--out", out]) != 0
    assert "--to-text needs --text" in capsys.readouterr().err


def test_dashboard_explorer_takes_a_caption(text_run, tmp_path):
    import io

    from gankit.dashboard.explorer import Explorer, ExplorerError

    def png(data: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(data)))

    explorer = Explorer()
    assert explorer.info(text_run)["text"] is True
    sevens = png(explorer.samples_png(text_run, seed=0, n=4, text="a thick seven"))
    assert np.array_equal(sevens, png(explorer.samples_png(text_run, 0, 4, text="a thick seven")))
    assert not np.array_equal(sevens, png(explorer.samples_png(text_run, 0, 4, text="a one")))
    assert png(explorer.samples_png(text_run, seed=0, n=4)).std() > 0  # training captions
    walk = png(explorer.interpolate_png(text_run, 1, 2, 4, text="a one"))
    assert walk.shape[1] > walk.shape[0]
    with pytest.raises(ExplorerError, match="no word this text encoder knows"):
        explorer.samples_png(text_run, 0, 4, text="zebra")
    plain = tmp_path / "plain"
    api.train(preset_config("dcgan-digits", {**TINY, "data.image_size": 8, "model.z_dim": 8}),
              plain)  # fmt: skip
    assert Explorer().info(plain)["text"] is False
    with pytest.raises(ExplorerError, match="not text-conditioned"):
        Explorer().samples_png(plain, 0, 4, text="a seven")


def test_text_noise_perturbs_g_input_only(tmp_path):
    """options.text_noise: G's caption input is phi(t) + s * eps with eps from the run's
    stream; D judges the pair under the clean phi(t)."""
    from gankit.runs import RunDir
    from gankit.training.loop import Trainer

    over = {**TINY, "options.text_noise": 0.5, "options.interpolation": False}
    cfg = preset_config("gan-int-cls-digits", over)
    tr = Trainer(cfg, RunDir.create(tmp_path / "run", cfg))
    seen: dict[str, list] = {"G": [], "D": []}
    for name in ("G", "D"):
        net, forward = tr.nets[name], tr.nets[name].forward
        net.forward = lambda a, text, f=forward, n=name: (seen[n].append(text), f(a, text))[1]
    batch = tr.batcher.next()
    ctx = StepContext(tr.nets, batch["x"], None, 16, 0, tr._sample_z,
                      torch.Generator().manual_seed(1), batch=batch)  # fmt: skip
    [g_phase] = [p for p in tr.phases if p.name == "G"]
    g_phase.loss(ctx)
    ctx.rng.manual_seed(1)
    clean = step_text(ctx, cfg.options.caption_draws)
    eps = torch.randn(clean.shape, generator=ctx.rng)
    assert torch.allclose(seen["G"][0], clean + 0.5 * eps)
    assert torch.equal(seen["D"][0], clean)
    with pytest.raises(ConfigError, match="text_noise"):
        preset_config("gan-int-cls-digits", {"options.text_noise": -0.1})
