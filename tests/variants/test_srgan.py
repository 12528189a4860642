"""SRResNet / SRGAN (gankit.variants.srgan): the pre-training -> adversarial phase switch, the
content and relativistic loss terms against hand-computed values, resume across the switch,
the fully convolutional apply export and the preview. Runs on a tiny paired dataset built here
(random 4x4 inputs, 16x16 targets), so no dataset file is needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api, viz
from gankit.applying import apply
from gankit.data import Dataset
from gankit.data.images import from_unit_range
from gankit.errors import ConfigError, DataError
from gankit.presets import preset_config
from gankit.runs import RunDir, load_model, run_exports
from gankit.training import loop
from gankit.training.loop import Trainer
from gankit.variants import srgan
from gankit.variants.base import StepContext

TINY = {
    "train.batch_size": 4,
    "train.deterministic": True,
    "train.device": "cpu",
    "train.steps": 6,
    "options.pretrain_steps": 3,
    "options.blocks": 1,
    "model.g_channels": 4,
    "model.d_channels": 4,
    "data.split": "test",  # the preview's fixed pairs come from the data itself
    "log.progress": False,
    "log.stats_every": 1,
    "log.checkpoint_every": 2,
    "log.sample_every": 3,
    "diagnose.enabled": False,
}


def tiny_pairs(n: int = 24, channels: int = 1, side: int = 4, scale: int = 4) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    hr = torch.rand((n, channels, side * scale, side * scale), generator=gen) * 2 - 1
    lr = torch.nn.functional.avg_pool2d(hr, scale)  # any paired reduction will do here
    return Dataset(
        lr, None, "image", "fashion-x4", info={"scale": scale}, fields={"b": hr},
        aliases={"a": "x"},
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _tiny_data(monkeypatch):
    """Every run of this file trains on tiny_pairs(), resumed runs included."""
    monkeypatch.setattr(loop, "load_run_data", lambda cfg: tiny_pairs())
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def config(preset: str = "srgan-fashion", **kw):
    return preset_config(preset, {**TINY, **kw})


def trainer(tmp_path, preset="srgan-fashion", **kw) -> Trainer:
    cfg = config(preset, **kw)
    return Trainer(cfg, RunDir.create(tmp_path / "run", cfg))


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# --- the phase schedule ---------------------------------------------------------------------
def test_only_pixel_loss_before_the_switch_then_d_and_g(tmp_path):
    tr = trainer(tmp_path)
    calls = {p.name: [] for p in tr.phases}
    for p in tr.phases:
        inner = p.loss

        def counted(ctx, inner=inner, name=p.name):
            terms = inner(ctx)
            calls[name].append((ctx.step, sorted(terms)))
            return terms

        p.loss = counted
    G, D = tr.nets["G"], tr.nets["D"]
    d0 = _params(D)
    for _ in range(3):  # steps 0-2: SRResNet alone
        g_before = _params(G)
        tr.train_step()
        assert not _same(g_before, _params(G))
    assert _same(d0, _params(D)), "D moved during pre-training"
    assert calls == {"pretrain": [(s, ["g_mse"]) for s in range(3)], "D": [], "G": []}
    for _ in range(3):  # steps 3-5: D and G, no pixel-only phase
        tr.train_step()
    assert [s for s, _ in calls["pretrain"]] == [0, 1, 2]
    assert calls["D"] == [(s, ["d_adv"]) for s in (3, 4, 5)]
    assert calls["G"] == [(s, ["g_adv", "g_content"]) for s in (3, 4, 5)]
    assert not _same(d0, _params(D))


def test_switch_from_the_fraction_of_train_steps(tmp_path):
    tr = trainer(tmp_path, **{"options.pretrain_steps": None, "options.pretrain_fraction": 0.5})
    by = {p.name: p for p in tr.phases}
    assert [s for s in range(6) if by["pretrain"].runs_at(s)] == [0, 1, 2]
    assert [s for s in range(6) if by["G"].runs_at(s)] == [3, 4, 5]
    tr.cfg.train.steps = 10  # --epochs sets train.steps after the phases exist: read late
    assert [s for s in range(10) if by["D"].runs_at(s)] == [5, 6, 7, 8, 9]


def test_srresnet_alone_has_no_discriminator(tmp_path):
    tr = trainer(tmp_path, preset="srresnet-fashion")
    assert set(tr.nets) == {"G"} and [p.name for p in tr.phases] == ["pretrain"]
    assert all(tr.phases[0].runs_at(s) for s in range(100))


# --- loss terms against hand-computed values --------------------------------------------------
def test_content_losses_by_hand():
    sr = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    hr = torch.zeros_like(sr)
    assert srgan.pixel_mse(sr, hr).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    # phi doubles the image and adds a second channel of ones: (2 x - 0)^2 and (1 - 1)^2
    phi = lambda x: torch.cat([2 * x, torch.ones_like(x)], dim=1)  # noqa: E731
    assert srgan.feature_content(phi, sr, hr).item() == pytest.approx(4 * 30 / 8)


def test_relativistic_losses_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])  # means 2 and 1

    def sig(a):
        return 1 / (1 + math.exp(-a))

    # D_Ra(x_r, x_f) = sigmoid(C(x_r) - mean C(x_f)); ESRGAN Eq. 1-2
    d = (
        -(math.log(sig(1 - 1)) + math.log(sig(3 - 1))) / 2
        - (math.log(1 - sig(0 - 2)) + math.log(1 - sig(2 - 2))) / 2
    )
    g = (
        -(math.log(1 - sig(1 - 1)) + math.log(1 - sig(3 - 1))) / 2
        - (math.log(sig(0 - 2)) + math.log(sig(2 - 2))) / 2
    )
    assert srgan.relativistic_d_loss(real, fake).item() == pytest.approx(d, rel=1e-6)
    assert srgan.relativistic_g_loss(real, fake).item() == pytest.approx(g, rel=1e-6)


def _ctx(tr: Trainer, step: int) -> StepContext:
    batch = tr.batcher.next()
    return StepContext(tr.nets, batch["x"], None, 4, step, tr._sample_z, tr.noise_rng,
                       batch=batch)  # fmt: skip


@pytest.mark.parametrize("relativistic", [False, True])
def test_g_terms_in_the_adversarial_phase(tmp_path, relativistic):
    """g_content is the D-feature distance of Eq. 5 (each block of D) and g_adv 1e-3 times
    Eq. 6 (or ESRGAN's G loss), recomputed here from the same batch and weights."""
    tr = trainer(tmp_path, **{"options.relativistic": relativistic})
    G, D = tr.nets["G"], tr.nets["D"]
    g_phase = next(p for p in tr.phases if p.name == "G")
    ctx = _ctx(tr, 3)
    torch.manual_seed(0)
    terms = g_phase.loss(ctx)
    with torch.no_grad():
        sr = G(ctx["x"])
        # every conv block of D, each block's mean squared distance, averaged over blocks
        blocks = D.block_features(torch.cat([sr, ctx["b"]]))
        assert len(blocks) == 1 + 2 * 4 - 1  # Fig. 4: the first conv and 7 conv-BN blocks
        content = sum((f.chunk(2)[1] - f.chunk(2)[0]).pow(2).mean() for f in blocks) / 8
        fake = D(sr)
        if relativistic:
            real = D(ctx["b"])
            adv = torch.mean(-torch.log(1 - torch.sigmoid(real - fake.mean()))) + torch.mean(
                -torch.log(torch.sigmoid(fake - real.mean()))
            )
        else:
            adv = torch.mean(-torch.log(torch.sigmoid(fake)))  # -log D(G(I^LR))
    assert terms["g_content"].item() == pytest.approx(content.item(), rel=1e-5)
    assert terms["g_adv"].item() == pytest.approx(1e-3 * adv.item(), rel=1e-5)


def test_classifier_content_uses_the_domain_classifier(tmp_path, monkeypatch):
    asked = []

    def fake_classifier(dataset, device):
        asked.append(dataset)
        return lambda x: 3 * x

    monkeypatch.setattr(srgan, "domain_classifier", fake_classifier)
    tr = trainer(tmp_path, **{"options.content": "classifier"})
    assert asked == ["fashion-mnist"]
    ctx = _ctx(tr, 3)
    terms = next(p for p in tr.phases if p.name == "G").loss(ctx)
    with torch.no_grad():
        want = (3 * tr.nets["G"](ctx["x"]) - 3 * ctx["b"]).pow(2).mean()
    assert terms["g_content"].item() == pytest.approx(want.item(), rel=1e-5)


def test_classifier_content_without_a_classifier_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="options.content=discriminator") as err:
        trainer(tmp_path, **{"options.content": "classifier", "data.name": "digits"})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("options.content", "vgg", "options.content"),
        ("options.pretrain_fraction", 1.5, "pretrain_fraction"),
        ("options.adversarial_weight", -1.0, "adversarial_weight"),
    ],
)
def test_bad_options_are_refused(key, value, match):
    with pytest.raises(ConfigError, match=match):
        config(**{key: value})


def test_relativistic_needs_the_standard_loss(tmp_path):
    with pytest.raises(ConfigError, match="train.loss=gan"):
        trainer(tmp_path, **{"options.relativistic": True, "train.loss": "lsgan"})


def test_unpaired_data_is_refused(tmp_path, monkeypatch):
    plain = Dataset(torch.zeros(4, 1, 8, 8), None, "image", "digits")
    monkeypatch.setattr(loop, "load_run_data", lambda cfg: plain)
    with pytest.raises(ConfigError, match="fashion-x4 or sr-folder"):
        trainer(tmp_path)


# --- resume across the switch -------------------------------------------------------------------
@pytest.mark.parametrize("stop_at", [2, 4])  # in the middle of pre-training; after the switch
def test_resume_equals_uninterrupted_across_the_switch(tmp_path, stop_at):
    torch.set_num_threads(1)
    api.train(config(), tmp_path / "full")
    cfg = config()
    Trainer(cfg, RunDir.create(tmp_path / "half", cfg)).train(stop_at)
    assert RunDir.open(tmp_path / "half").load_checkpoint().step == stop_at
    api.resume(tmp_path / "half")
    a = RunDir.open(tmp_path / "full").load_checkpoint()
    b = RunDir.open(tmp_path / "half").load_checkpoint()
    assert a.step == b.step == 6
    assert a.tensors.keys() == b.tensors.keys()
    assert any(k.startswith("D.") for k in a.tensors)
    diff = [k for k in a.tensors if not torch.equal(a.tensors[k], b.tensors[k])]
    assert not diff, f"differ after resuming at {stop_at}: {diff[:5]}"

    def losses(run):
        return [{k: v for k, v in r.items() if k != "sec_per_step"} for r in run.read_stats()]

    assert losses(RunDir(tmp_path / "full")) == losses(RunDir(tmp_path / "half"))


# --- apply and the preview --------------------------------------------------------------------
def test_apply_export_is_fully_convolutional(tmp_path):
    api.train(config(preset="srresnet-fashion", **{"train.steps": 2}), tmp_path / "run")
    e = run_exports(tmp_path / "run")["apply"]
    assert e.input == {"kind": "image", "shape": [1, 4, 4], "multiple_of": 1, "min_size": 1}
    assert e.output["shape"] == [1, 16, 16] and e.output["scale"] == 4
    model = load_model(tmp_path / "run")
    for h, w in ((4, 4), (7, 7), (5, 13)):
        assert model(torch.zeros(2, 1, h, w)).shape == (2, 1, 4 * h, 4 * w)
    # gankit apply: an array of another size, one image file, a wrong channel count
    rng = np.random.default_rng(0)
    np.save(tmp_path / "lr.npy", rng.integers(0, 256, (3, 1, 7, 7), dtype=np.uint8))
    assert apply(tmp_path / "run", tmp_path / "lr.npy", tmp_path / "sr.npy")["written"] == 3
    assert np.load(tmp_path / "sr.npy").shape == (3, 1, 28, 28)
    Image.fromarray(rng.integers(0, 256, (5, 9), dtype=np.uint8)).save(tmp_path / "lr.png")
    apply(tmp_path / "run", tmp_path / "lr.png", tmp_path / "sr.png")
    assert Image.open(tmp_path / "sr.png").size == (36, 20)
    (tmp_path / "lr_dir").mkdir()  # a folder of images of different sizes
    for i, (h, w) in enumerate(((4, 6), (7, 7))):
        im = rng.integers(0, 256, (h, w), dtype=np.uint8)
        Image.fromarray(im).save(tmp_path / "lr_dir" / f"{i}.png")
    assert apply(tmp_path / "run", tmp_path / "lr_dir", tmp_path / "sr_dir")["written"] == 2
    assert Image.open(tmp_path / "sr_dir" / "0.png").size == (24, 16)
    assert Image.open(tmp_path / "sr_dir" / "1.png").size == (28, 28)
    np.save(tmp_path / "rgb.npy", rng.integers(0, 256, (1, 3, 7, 7), dtype=np.uint8))
    with pytest.raises(DataError, match="channel|C, H, W") as err:
        apply(tmp_path / "run", tmp_path / "rgb.npy", tmp_path / "bad.npy")
    assert "\n" not in str(err.value)


def test_preview_rows_bicubic_output_target(tmp_path):
    api.train(config(), tmp_path / "run")
    pictures = sorted((tmp_path / "run" / "samples").glob("step_*.png"))
    assert [p.name for p in pictures] == [f"step_0000000{s}.png" for s in (0, 3, 6)]
    grid = np.asarray(Image.open(pictures[-1]))
    data = tiny_pairs()
    bicubic, target = srgan.bicubic_upscale(data.x[:8], 4), data.fields["b"][:8]
    rows = from_unit_range(torch.cat([bicubic, torch.zeros_like(target), target])).numpy()
    want = np.asarray(viz.image_grid(rows, nrow=8))
    assert grid.shape == want.shape  # three rows of eight 16x16 pairs (cells drawn at 32x32)
    top, middle, bottom = (slice(2 + r * 34, 2 + r * 34 + 32) for r in range(3))
    assert np.array_equal(grid[top], want[top]) and np.array_equal(grid[bottom], want[bottom])
    assert not np.array_equal(grid[middle], want[middle])  # G's outputs, not a blank row


def test_bicubic_upscale_is_pillows():
    gen = np.random.default_rng(0)
    u8 = gen.integers(0, 256, size=(2, 3, 5, 6), dtype=np.uint8)
    x = torch.from_numpy(u8.astype(np.float32) / 127.5 - 1)
    up = srgan.bicubic_upscale(x, 4)
    assert up.shape == (2, 3, 20, 24)
    want = np.asarray(Image.fromarray(u8[1].transpose(1, 2, 0)).resize((24, 20), Image.BICUBIC))
    got = ((up[1].numpy().transpose(1, 2, 0) + 1) * 127.5).round().astype(np.uint8)
    assert np.array_equal(got, want)
