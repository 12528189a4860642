"""CycleGAN on images (Zhu et al. 2017, Sec. 4, Appendix 7): the ResNet generator, the image
pool, the cycle and identity terms, resume with a non-empty pool, the exports and preview,
and the 2-D path left as it was. The contract suite runs the variant's first preset (the 2-D
ring-grid); the image path is checked here on a tiny dataset made from the embedded 8x8
digits at 16x16 (A: digits 0-4, B: digits 5-9, unpaired)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit import tricks
from gankit.applying import apply
from gankit.config import Config
from gankit.data import Dataset, load_dataset
from gankit.errors import CheckpointError, ConfigError, DataError
from gankit.networks import build_network
from gankit.presets import PRESETS, preset_config
from gankit.runs import RunDir, load_model, run_exports
from gankit.training.loop import Trainer
from gankit.variants import VARIANTS, StepContext
from gankit.variants._image_pool import ImagePool
from gankit.variants.cyclegan import cycle_loss, identity_loss
from gankit.viz import image_grid
from tests.variants.test_contract import STEPS, TINY, _assert_bitwise, tiny_config

SIDE = 16
SMALL = {
    **TINY,
    "options.n_blocks": 1,
    "options.d_layers": 2,  # PatchGAN on 16x16: 2x2 patch decisions
    "options.pool_size": 8,  # full after the first D update of 16 images: swaps happen
}


def digits_ab(channels_b: int = 1, side: int = SIDE) -> Dataset:
    d = load_dataset("digits", split="train", image_size=side, channels=1)
    a, b = d.x[d.y < 5][:96], d.x[d.y >= 5][:80]
    if channels_b != 1:
        b = b.expand(-1, channels_b, -1, -1).contiguous()
    return Dataset(
        x=a.contiguous(), y=None, kind="image", name="digits-ab", unpaired={"b": b},
        aliases={"a": "x"},
    )  # fmt: skip


def config(**kw) -> Config:
    return preset_config("cyclegan-sneaker-boot", {**SMALL, **kw})


def trainer(path, data: Dataset | None = None, **kw) -> Trainer:
    cfg = config(**kw)
    return Trainer(cfg, RunDir.create(path, cfg), data=data or digits_ab())


def resume(path, data: Dataset) -> Trainer:
    run = RunDir.open(path)
    tr = Trainer(run.config(), run, data=data)
    ckpt = run.load_checkpoint()
    tr.load_state(ckpt.tensors, ckpt.meta, ckpt.step)
    return tr


@pytest.fixture(autouse=True)
def _one_thread():
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


# --- the ResNet generator (Johnson et al. 2016; Zhu et al. Appendix 7.2) -------------------------
def test_resnet_g_shapes_and_layers():
    G = build_network("resnet_g", in_channels=3, out_channels=1, width=8, n_blocks=6)
    for h, w in ((28, 28), (32, 48), (8, 12)):  # any multiple of 4, at least 8
        y = G(torch.rand(2, 3, h, w) * 2 - 1)
        assert y.shape == (2, 1, h, w) and y.abs().max() <= 1  # tanh output
    convs = [m for m in G.modules() if type(m) is nn.Conv2d]
    assert [c.stride for c in convs if c.stride != (1, 1)] == [(2, 2), (2, 2)]  # d16, d32
    ups = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    want = [(32, 16, (2, 2)), (16, 8, (2, 2))]  # u16, u8
    assert [(u.in_channels, u.out_channels, u.stride) for u in ups] == want
    assert (convs[0].kernel_size, convs[0].out_channels) == ((7, 7), 8)  # c7s1-8
    assert (convs[-1].kernel_size, convs[-1].out_channels) == ((7, 7), 1)  # c7s1-1
    blocks = [m for m in G.modules() if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 6
    assert len(build_network("resnet_g", in_channels=1, n_blocks=9, width=4).net) > len(G.net)
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    # c7s1, d, d, 2 per block, u, u: all instance norm, no batch norm anywhere
    assert len(norms) == 3 + 2 * 6 + 2
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 6


def test_resnet_g_instance_norm_treats_each_image_alone():
    torch.manual_seed(0)
    G = build_network("resnet_g", in_channels=1, width=4, n_blocks=2)
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        batch = G(x)
        alone = torch.cat([G(x[i : i + 1]) for i in range(4)])
        G.eval()
        evaluated = G(x)
    torch.testing.assert_close(batch, alone)  # no batch statistics
    torch.testing.assert_close(batch, evaluated)  # no running statistics either
    # instance norm: the first block's output has zero mean per image and channel
    first = G.net[:3](x)
    torch.testing.assert_close(first.mean((2, 3)), torch.zeros(4, 4), atol=1e-5, rtol=0)


# --- the image pool (Shrivastava et al. 2017, as in Zhu et al. Sec. 4) ----------------------------
def numbered(start: int, n: int) -> torch.Tensor:
    """Images whose every pixel is their number: (n, 1, 2, 2)."""
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2)


def test_pool_fills_to_its_size_then_swaps_with_probability_one_half():
    pool, gen = ImagePool(50, (1, 2, 2)), torch.Generator().manual_seed(0)
    global_rng = torch.get_rng_state()
    for start in range(0, 50, 10):  # filling: every image passes through and is kept
        out = pool.query(numbered(start, 10), gen)
        assert torch.equal(out, numbered(start, 10))
    assert len(pool) == 50 and torch.equal(pool.images, numbered(0, 50))
    swapped, n = 0, 2000
    for i in range(50, 50 + n):
        before = pool.images.clone()
        out = pool.query(numbered(i, 1), gen)
        if out[0, 0, 0, 0] == i:  # passed through: the pool is unchanged
            assert torch.equal(pool.images, before)
            continue
        swapped += 1  # a stored image came out, and the new one took its slot
        slot = int((before[:, 0, 0, 0] == out[0, 0, 0, 0]).nonzero())
        assert pool.images[slot, 0, 0, 0] == i
        assert torch.equal(torch.cat([pool.images[:slot], pool.images[slot + 1 :]]),
                           torch.cat([before[:slot], before[slot + 1 :]]))  # fmt: skip
    assert len(pool) == 50
    assert 0.45 < swapped / n < 0.55  # binomial(2000, 1/2): 4.5 standard deviations
    assert torch.equal(torch.get_rng_state(), global_rng)  # drew from the generator only


def test_pool_is_deterministic_under_a_seeded_generator():
    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        pool, gen = ImagePool(5, (1, 2, 2)), torch.Generator().manual_seed(seed)
        outs = [pool.query(numbered(4 * k, 4), gen) for k in range(10)]
        return torch.cat(outs), pool.images

    assert all(torch.equal(x, y) for x, y in zip(run(3), run(3)))
    assert not torch.equal(run(3)[0], run(4)[0])


def test_pool_size_zero_passes_images_through_and_draws_nothing():
    pool, gen = ImagePool(0), torch.Generator().manual_seed(0)
    state = gen.get_state()
    x = torch.randn(4, 1, 2, 2, requires_grad=True)
    out = pool.query(x, gen)
    assert torch.equal(out, x) and not out.requires_grad and len(pool) == 0
    assert torch.equal(gen.get_state(), state) and pool.state("p") == {}


def test_pool_state_round_trip_and_refusals():
    pool, gen = ImagePool(6, (1, 2, 2)), torch.Generator().manual_seed(0)
    pool.query(numbered(0, 4), gen)
    saved = pool.state("pool.fake_b")
    other = ImagePool(6, (1, 2, 2))
    other.load_state(saved, "pool.fake_b")
    assert torch.equal(other.images, numbered(0, 4))
    other.load_state({}, "pool.fake_b")  # nothing saved: an empty pool
    assert len(other) == 0
    for bad in (
        numbered(0, 7),
        torch.zeros(2, 1, 3, 3),
        torch.zeros(2, 4),
        torch.zeros(0, 1, 2, 2),
    ):
        with pytest.raises(ValueError, match="pool"):
            other.load_state({"p": bad}, "p")


# --- the loss terms against hand-computed values -------------------------------------------------
class Scale(nn.Module):
    def __init__(self, s: float):
        super().__init__()
        self.s = nn.Parameter(torch.tensor(s))

    def forward(self, x):
        return self.s * x


def test_cycle_and_identity_terms_by_hand(tmp_path):
    a = torch.tensor([1.0, -2.0, 0.5, 4.0]).view(1, 1, 2, 2)  # mean |a| = 1.875
    b = torch.tensor([2.0, 0.0, -1.0, 1.0]).view(1, 1, 2, 2)  # mean |b| = 1
    # G_AB = 0.5 x, G_BA = 3 x: round trips 1.5 a and 1.5 b
    assert cycle_loss(a, 1.5 * a, b, 1.5 * b).item() == pytest.approx(0.5 * 1.875 + 0.5 * 1)
    assert identity_loss(a, 3 * a, b, 0.5 * b).item() == pytest.approx(2 * 1.875 + 0.5 * 1)
    v = VARIANTS.get("cyclegan")()
    cfg = config()
    v.build(cfg, digits_ab())
    nets = {
        "G_AB": Scale(0.5),
        "G_BA": Scale(3.0),
        "D_A": nn.Conv2d(1, 1, 1),
        "D_B": nn.Conv2d(1, 1, 1),
    }
    g_phase = {p.name: p for p in v.phases(cfg, nets)}["G"]
    ctx = StepContext(nets, a, None, 1, 0, None, rng=torch.Generator().manual_seed(0),
                      batch={"x": a, "a": a, "b": b})  # fmt: skip
    terms = g_phase.loss(ctx)
    # lambda = 10 (Eq. 3); identity weight 0.5 lambda = 5 (Sec. 5.2) by default on images
    assert terms["g_cycle"].item() == pytest.approx(10 * (0.9375 + 0.5))
    assert terms["g_identity"].item() == pytest.approx(5 * (3.75 + 0.5))
    # LSGAN's G terms on the patch outputs, 1/2 E (D(G(.)) - 1)^2 (Mao et al. 2017)
    d_b = nets["D_B"](0.5 * a)
    assert terms["g_B_adv"].item() == pytest.approx(0.5 * ((d_b - 1) ** 2).mean().item())
    cfg_off = config(**{"options.lambda_identity": 0.0, "options.lambda_cycle": 2.0})
    terms = {p.name: p for p in v.phases(cfg_off, nets)}["G"].loss(ctx)
    assert "g_identity" not in terms
    assert terms["g_cycle"].item() == pytest.approx(2 * (0.9375 + 0.5))


def test_defaults_on_images_and_points(tmp_path):
    v = VARIANTS.get("cyclegan")()
    cfg = config()
    v.build(cfg, digits_ab())
    assert v.weights(cfg) == (5.0, 8)  # 0.5 lambda_cycle; the configured pool
    assert v.weights(config(**{"options.pool_size": None})) == (5.0, 50)
    cfg_2d = tiny_config("cyclegan")  # the ring-grid preset
    v2 = VARIANTS.get("cyclegan")()
    v2.build(cfg_2d, load_dataset("ring-grid", n_samples=64))
    assert v2.weights(cfg_2d) == (0.0, 0)  # no identity term, no pool: as before images


# --- training: networks, resume with a non-empty pool, exports, preview --------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A straight run of STEPS steps and one stopped half way, then resumed."""
    base, data = tmp_path_factory.mktemp("cyclegan-images"), digits_ab()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer(base / "full", data).train(STEPS)
        trainer(base / "half", data).train(STEPS // 2)
        resume(base / "half", data).train(STEPS)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
    return base, data


def test_networks_are_resnet_g_and_instance_norm_patchgan(tmp_path):
    tr = trainer(tmp_path / "run")
    specs = {k: (v.spec["name"], v.spec["kwargs"]) for k, v in tr.nets.items()}
    assert specs["G_AB"] == (
        "resnet_g",
        {"in_channels": 1, "out_channels": 1, "width": 8, "n_blocks": 1},
    )
    assert specs["D_B"] == (
        "patchgan",
        {"in_channels": 1, "width": 8, "n_layers": 2, "norm": "instance"},
    )
    cfg = tr.cfg
    assert (cfg.train.loss, cfg.train.lr_decay, cfg.options.lambda_cycle) == ("lsgan", 0.5, 10.0)


def test_resume_equals_uninterrupted_with_a_non_empty_pool(runs):
    base, data = runs
    full = RunDir.open(base / "full").load_checkpoint()
    half = RunDir.open(base / "half").load_checkpoint()
    assert full.step == half.step == STEPS
    for name in ("fake_a", "fake_b"):  # full pools went into the checkpoints
        assert full.tensors[f"variant.pool.{name}"].shape == (8, 1, SIDE, SIDE)
    _assert_bitwise(full.tensors, half.tensors, "resumed vs uninterrupted")


def test_resume_without_the_pool_would_differ(tmp_path, runs):
    """The pool matters: the same resume with the restored pool emptied ends elsewhere."""
    base, data = runs
    trainer(tmp_path / "half", data).train(STEPS // 2)
    tr = resume(tmp_path / "half", data)
    assert len(tr.variant.pools["fake_b"]) == 8
    for pool in tr.variant.pools.values():
        pool.images = None
    tr.train(STEPS)
    full = RunDir.open(base / "full").load_checkpoint().tensors
    mine = RunDir.open(tmp_path / "half").load_checkpoint().tensors
    assert not torch.equal(full["D_B.head.weight"], mine["D_B.head.weight"])


def test_a_crafted_pool_is_a_checkpoint_error(tmp_path, runs):
    base, data = runs
    run = RunDir.open(base / "full")
    ckpt = run.load_checkpoint()
    tensors = {**ckpt.tensors, "variant.pool.fake_b": torch.zeros(9, 1, SIDE, SIDE)}
    tr = Trainer(run.config(), RunDir.create(tmp_path / "other", run.config()), data=data)
    with pytest.raises(CheckpointError, match="does not match"):
        tr.load_state(tensors, ckpt.meta, ckpt.step)


def test_exports_take_any_multiple_of_four(runs):
    base, _ = runs
    exports = run_exports(base / "full")
    assert set(exports) == {"apply", "apply_ba", "cycle_a"}
    for e in exports.values():
        assert e.input["multiple_of"] == 4 and e.input["min_size"] == 8
        assert e.input["shape"] == [1, SIDE, SIDE] and e.output["kind"] == "image"
    x = torch.rand(3, 1, 24, 32) * 2 - 1  # not the training size
    ab, ba = load_model(base / "full", "apply"), load_model(base / "full", "apply_ba")
    y = ab(x)
    assert y.shape == (3, 1, 24, 32) and y.abs().max() <= 1
    torch.testing.assert_close(load_model(base / "full", "cycle_a")(x), ba(y))


def test_gankit_apply_both_directions_at_another_size(runs, tmp_path):
    base, _ = runs
    x = np.random.default_rng(0).integers(0, 256, (2, 1, 20, 28), dtype=np.uint8)
    np.save(tmp_path / "in.npy", x)
    for export in ("apply", "apply_ba"):
        summary = apply(base / "full", tmp_path / "in.npy", tmp_path / f"{export}.npy", export)
        y = np.load(tmp_path / f"{export}.npy")
        assert summary["written"] == 2 and y.shape == (2, 1, 20, 28) and y.dtype == np.uint8
        want = load_model(base / "full", export)(torch.from_numpy(x).float() / 127.5 - 1)
        assert np.abs(y.astype(int) - ((want + 1) * 127.5).round().numpy()).max() <= 1


def test_preview_rows_are_both_directions_and_the_cycles(runs):
    base, data = runs
    grids = sorted((base / "full" / "samples").glob("step_*.png"))
    assert grids, "no preview written"
    picture = np.asarray(Image.open(grids[-1]))
    a, b = data.x[:8], data.unpaired["b"][:8]
    ab, ba = load_model(base / "full", "apply"), load_model(base / "full", "apply_ba")
    rows = torch.cat([a, ab(a), ba(ab(a)), b, ba(b), ab(ba(b))])
    want = np.asarray(image_grid(((rows + 1) * 127.5).round().clamp(0, 255).byte().numpy(), nrow=8))
    assert picture.shape == want.shape  # 6 rows of 8
    # the real rows exactly; the translated ones up to rounding
    cell = want.shape[0] // 6
    assert np.array_equal(picture[:cell], want[:cell])
    assert np.array_equal(picture[3 * cell : 4 * cell], want[3 * cell : 4 * cell])
    assert np.abs(picture.astype(int) - want.astype(int)).max() <= 1


# --- refusals ------------------------------------------------------------------------------------
def test_image_sides_must_suit_the_resnet_g(tmp_path):
    with pytest.raises(ConfigError, match="multiples of 4"):
        trainer(tmp_path / "run", digits_ab(side=18))


def test_patchgan_depth_must_suit_the_image_size(tmp_path):
    with pytest.raises(ConfigError, match="options.d_layers=3 needs images of at least 24"):
        trainer(tmp_path / "run", **{"options.d_layers": 3})  # 16x16 digits


def test_identity_needs_one_channel_count(tmp_path):
    data = digits_ab(channels_b=3)
    with pytest.raises(ConfigError, match="lambda_identity"):
        trainer(tmp_path / "a", data, **{"options.lambda_identity": 1.0})
    tr = trainer(tmp_path / "b", data)  # the default leaves the identity term out
    assert tr.variant.weights(tr.cfg)[0] == 0.0
    assert tr.nets["G_AB"].spec["kwargs"]["out_channels"] == 3
    tr.train(1)


def test_bad_options_are_config_errors():
    for key, value in (("options.pool_size", -1), ("options.d_layers", 0)):
        with pytest.raises(ConfigError, match="options"):
            config(**{key: value})


def test_presets():
    for name in ("cyclegan-ring-grid", "cyclegan-sneaker-boot", "cyclegan-folder"):
        assert PRESETS[name].overrides["train.variant"] == "cyclegan"
        assert PRESETS[name].overrides["train.loss"] == "lsgan"
    folder = preset_config("cyclegan-folder", {"data.root": "/nowhere"})
    assert (folder.data.name, folder.data.channels) == ("unpaired-folder", 3)
    assert preset_config("cyclegan-sneaker-boot").data.name == "sneaker-boot"


def test_folder_preset_trains_on_unpaired_rgb_folders(tmp_path):
    """cyclegan-folder on trainA/, trainB/, testA/, testB/ (RGB): the preview's rows come
    from the test folders."""
    rng = np.random.default_rng(0)
    for folder, n in (("trainA", 6), ("trainB", 5), ("testA", 3), ("testB", 3)):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / folder / f"{i}.png")
    cfg = preset_config(
        "cyclegan-folder",
        {**SMALL, "data.root": str(tmp_path / "data"), "data.image_size": SIDE,
         "train.batch_size": 2, "data.n_samples": 20000},
    )  # fmt: skip
    tr = Trainer(cfg, RunDir.create(tmp_path / "run", cfg))
    assert tr.data.shape == (3, SIDE, SIDE) and tr.nets["G_AB"].spec["kwargs"]["in_channels"] == 3
    tr.train(2)
    a, b = tr.variant._fixed
    assert (len(a), len(b)) == (3, 3)  # the test folders' images
    picture = Image.open(sorted((tmp_path / "run" / "samples").glob("step_*.png"))[-1])
    assert picture.mode == "RGB"


def test_folder_preset_needs_a_root(tmp_path):
    cfg = preset_config("cyclegan-folder", {**SMALL})
    with pytest.raises(DataError, match="needs data.root=DIR"):
        Trainer(cfg, RunDir.create(tmp_path / "run", cfg))


# --- the 2-D path is as it was --------------------------------------------------------------------
def test_2d_losses_are_the_former_formulas(tmp_path):
    """The ring-grid preset's D and G terms equal the formulas of the 2-D-only version
    (no pool, no identity term, one logit per point), on the same batch and noise."""
    cfg = tiny_config("cyclegan")
    tr = Trainer(cfg, RunDir.create(tmp_path / "run", cfg))
    phases = {p.name: p for p in tr.phases}
    G_AB, G_BA, D_A, D_B = (tr.nets[k] for k in ("G_AB", "G_BA", "D_A", "D_B"))
    adv_a = tricks.AdversarialTerms.from_config(cfg, None, prefix="_A")
    adv_b = tricks.AdversarialTerms.from_config(cfg, None, prefix="_B")
    batch = tr.batcher.next()

    def ctx() -> StepContext:
        gen = torch.Generator().manual_seed(5)
        return StepContext(tr.nets, batch["x"], None, 16, 3, None, rng=gen, batch=batch)

    def former_d(c):
        a, b = c["a"], c["b"]
        fake_b, fake_a = G_AB(a).detach(), G_BA(b).detach()
        terms = {}
        for adv, D, real, fake in ((adv_b, D_B, b, fake_b), (adv_a, D_A, a, fake_a)):
            terms.update(adv.d_terms(c, D(adv.noisy(real, c)), D(adv.noisy(fake, c))))
        return terms

    def former_g(c):
        a, b = c["a"], c["b"]
        fake_b, fake_a = G_AB(a), G_BA(b)
        terms = {
            **adv_b.g_terms(c, D_B(adv_b.noisy(fake_b, c))),
            **adv_a.g_terms(c, D_A(adv_a.noisy(fake_a, c))),
        }
        cycle = (G_BA(fake_b) - a).abs().mean() + (G_AB(fake_a) - b).abs().mean()
        return {**terms, "g_cycle": 10.0 * cycle}

    assert cfg.tricks.instance_noise > 0  # the noise draws take part
    for name, former in (("D", former_d), ("G", former_g)):
        new, old = phases[name].loss(ctx()), former(ctx())
        assert new.keys() == old.keys(), name
        for k in new:
            assert torch.equal(new[k], old[k]), f"{name} {k}"
    assert tr.variant.state() == {}  # no pool in a 2-D checkpoint
