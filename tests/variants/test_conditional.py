"""Contract tests of the conditional and structured-latent variants (cgan, acgan, infogan):
shapes, which networks each phase updates, k steps, save/load, determinism, exact resume."""

import pytest
import torch
import torch.nn.functional as F

from gankit import api
from gankit.errors import ConfigError
from gankit.presets import preset_config
from gankit.runs import RunDir, load_generator
from gankit.training.loop import Trainer
from gankit.variants import StepContext
from tests.conftest import TINY_DCGAN, TINY_TOY
from tests.training.test_loop import _assert_resume_bitwise

TINY = {**TINY_DCGAN, "log.n_fixed": 20}
MLP = {
    "model.generator": "mlp",
    "model.discriminator": "mlp",
    "model.hidden": 16,
    "model.layers": 2,
}
CASES = {
    "cgan-projection": ("cgan-digits", {}),
    "cgan-embed": ("cgan-digits", {"options.label_mode": "embed"}),
    "cgan-onehot": ("cgan-digits", {"options.label_mode": "onehot"}),
    "cgan-mlp": ("cgan-digits", {"options.label_mode": "embed", **MLP}),
    "acgan": ("acgan-fashion", {"data.name": "digits"}),
    "tacgan": ("acgan-fashion", {"data.name": "digits", "options.twin_classifier": True}),
    "infogan": ("infogan-digits", {}),
    "infogan-mlp": ("infogan-digits", {"options.info_continuous": 1, **MLP}),
}


def config(case, **kw):
    preset, over = CASES[case]
    return preset_config(preset, {**TINY, **over, **kw})


def trainer(case, tmp_path, name="run", **kw):
    cfg = config(case, **kw)
    return Trainer(cfg, RunDir.create(tmp_path / name, cfg))


def context(tr, real=True):
    batch = tr.batcher.next() if real else {}
    x, y = batch.get("x"), batch.get("y")
    return StepContext(tr.nets, x, y, tr.cfg.train.batch_size, tr.step, tr._sample_z, tr.noise_rng)


@pytest.mark.parametrize("case", sorted(CASES))
def test_shapes(case, tmp_path):
    tr = trainer(case, tmp_path)
    D = tr.nets["D"]
    fake, cond = tr.variant.fake_batch(tr.nets, context(tr))
    assert fake.shape == (32, 1, 8, 8) and fake.abs().max() <= 1
    assert tr.variant.d_logits(tr.nets, fake, cond).shape == (32,)
    _, head = D.outputs(fake, cond if case.startswith("cgan") else None)
    want_head = {
        "acgan": (32, 10),
        "tacgan": (32, 20),
        "infogan": (32, 12),
        "infogan-mlp": (32, 11),
    }.get(case)
    assert (None if head is None else tuple(head.shape)) == want_head
    assert tr.sampler(ema=False).grid(tr.fixed_z).shape == (20, 1, 8, 8)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_phase_updates_only_its_network(case, tmp_path):
    tr = trainer(case, tmp_path)
    tr.train_step()  # populate optimizer state and grads
    all_phases = tr.phases
    for name, other in (("D", "G"), ("G", "D")):
        before = {n: {k: p.clone() for k, p in tr.nets[n].named_parameters()} for n in "GD"}
        grads = [p.grad.clone() for p in tr.nets[other].parameters()]
        tr.phases = [p for p in all_phases if p.name == name]
        tr.train_step()
        now = {n: dict(tr.nets[n].named_parameters()) for n in "GD"}
        assert all(torch.equal(v, now[other][k]) for k, v in before[other].items())
        assert all(torch.equal(g, p.grad) for g, p in zip(grads, tr.nets[other].parameters()))
        changed = [k for k, v in before[name].items() if not torch.equal(v, now[name][k])]
        if name == "D" and case.startswith(("acgan", "infogan")):  # AC / Q head trained in D
            assert any(k.startswith("head.") for k in changed), changed
        assert changed


@pytest.mark.parametrize("case", ["cgan-projection", "acgan", "infogan"])
def test_k_discriminator_steps(case, tmp_path):
    tr = trainer(case, tmp_path, **{"train.d_steps": 3})
    calls = {"D": 0, "G": 0}
    for phase in tr.phases:
        inner = phase.loss

        def counted(ctx, inner=inner, name=phase.name):
            calls[name] += 1
            return inner(ctx)

        phase.loss = counted
    for _ in range(4):
        tr.train_step()
    assert calls == {"D": 12, "G": 4}
    assert tr.batcher.position == 12 * 32


@pytest.mark.parametrize("case", ["cgan-projection", "cgan-onehot", "acgan", "infogan-mlp"])
def test_save_load_round_trip(case, tmp_path):
    run = api.train(config(case), tmp_path / "r", steps=3)
    tr = trainer(case, tmp_path, "again")
    ckpt = RunDir(run.path).load_checkpoint()
    tr.load_state(ckpt.tensors, ckpt.meta, ckpt.step)
    G = load_generator(run.path)
    want = {k: v for k, v in tr.nets["G"].state_dict().items()}
    assert all(torch.equal(v, G.net.state_dict()[k]) for k, v in want.items())
    # the layout saved in the checkpoint drives sampling: same inputs, same images
    gen = torch.Generator().manual_seed(5)
    inputs = G.layout.draw(6, G.prior, gen, "cpu")
    tr.nets["G"].eval()
    with torch.no_grad():
        assert torch.equal(G.generate(**inputs), tr.nets["G"](**inputs))
    assert torch.equal(G.sample(6, seed=1), G.sample(6, seed=1))
    conditional = case.startswith(("cgan", "acgan"))
    assert G.layout.num_classes == (10 if conditional else 0)
    assert G.layout.categorical == (() if conditional else (10,))


@pytest.mark.parametrize("case", ["cgan-projection", "acgan", "infogan"])
def test_seeded_runs_are_identical(case, tmp_path):
    a, b, c = (trainer(case, tmp_path, n, **{"train.seed": s}) for n, s in zip("abc", (4, 4, 5)))
    for tr in (a, b, c):
        for _ in range(5):
            tr.train_step()
    wa, wb, wc = (tr.nets["G"].state_dict() for tr in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.parametrize("case", ["cgan-projection", "acgan", "infogan"])
def test_resume_equals_uninterrupted(case, tmp_path):
    # acgan-fashion anneals instance noise; over the whole run by default, which a resume to
    # more steps stretches, so a fixed span makes the two runs' schedules the same
    overrides = {"train.ema": 0.9, "tricks.instance_noise_steps": 50}
    _assert_resume_bitwise(lambda **kw: config(case, **kw), tmp_path, 7, **overrides)


@pytest.mark.parametrize("variant", ["cgan", "acgan"])
def test_conditional_variant_needs_labels(variant, tmp_path):
    cfg = preset_config("toy-ring", {**TINY_TOY, "train.variant": variant})
    with pytest.raises(ConfigError, match="needs labels; dataset 'ring' has none"):
        Trainer(cfg, RunDir.create(tmp_path / "r", cfg))


def test_unlabelled_folder_error_says_how_to_label(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.new("L", (8, 8), color=i * 40).save(tmp_path / "imgs" / f"{i}.png")
    cfg = preset_config(
        "cgan-folder", {**TINY, "data.root": str(tmp_path / "imgs"), "train.batch_size": 2}
    )
    with pytest.raises(ConfigError, match="one subfolder per class"):
        Trainer(cfg, RunDir.create(tmp_path / "r", cfg))


def test_cgan_fake_labels_are_uniform_and_condition_g(tmp_path):
    tr = trainer("cgan-embed", tmp_path, **{"train.batch_size": 1000, "data.name": "digits"})
    tr.nets["G"].eval()
    _, y = tr.variant.fake_batch(tr.nets, context(tr, real=False))
    counts = torch.bincount(y, minlength=10)
    assert counts.sum() == 1000 and counts.min() > 60  # U{0..9}: about 100 each
    z = torch.randn(4, 8)
    G = tr.nets["G"]
    with torch.no_grad():
        assert not torch.allclose(G(z, torch.zeros(4).long()), G(z, torch.ones(4).long()))


def test_acgan_class_terms_are_cross_entropies(tmp_path):
    tr = trainer("acgan", tmp_path, **{"options.ac_weight": 0.5, "options.ac_fake_class": True})
    ctx = context(tr)
    fake, y_fake = tr.variant.fake_batch(tr.nets, ctx)
    tr.variant.d_logits(tr.nets, ctx.real, ctx.labels)
    tr.variant.d_logits(tr.nets, fake, y_fake)
    terms = tr.variant.extra_d_terms(tr.nets, ctx, ctx.real, fake, y_fake)
    D = tr.nets["D"]
    want = F.cross_entropy(D.outputs(ctx.real)[1], ctx.labels) + F.cross_entropy(
        D.outputs(fake)[1], y_fake
    )
    assert torch.allclose(terms["d_class"], 0.5 * want)
    g_terms = tr.variant.extra_g_terms(tr.nets, ctx, fake, y_fake)
    assert torch.allclose(g_terms["g_class"], 0.5 * F.cross_entropy(D.outputs(fake)[1], y_fake))


def test_infogan_info_term_is_the_code_likelihood(tmp_path):
    tr = trainer("infogan", tmp_path, **{"options.info_weight": 2.0})
    ctx = context(tr, real=False)
    fake, (cat, cont) = tr.variant.fake_batch(tr.nets, ctx)
    assert cat.shape == (32, 1) and cont.shape == (32, 2) and cont.abs().max() <= 1
    terms = tr.variant.extra_g_terms(tr.nets, ctx, fake, (cat, cont))
    q = tr.nets["D"].outputs(fake)[1]
    ce = F.cross_entropy(q[:, :10], cat[:, 0])
    want = ce + 0.5 * ((cont - q[:, 10:]) ** 2).sum(1).mean()
    assert torch.allclose(terms["g_info"], 2.0 * want)
    assert torch.allclose(ctx.logs["MI_bound(c0)"], torch.log(torch.tensor(10.0)) - ce)


def test_infogan_needs_a_code(tmp_path):
    with pytest.raises(ConfigError, match="needs a latent code"):
        trainer(
            "infogan", tmp_path, **{"options.info_categorical": 0, "options.info_continuous": 0}
        )


def test_infogan_trains_without_labels():
    from gankit.variants.infogan import InfoGAN

    class Unlabelled:  # what InfoGAN needs from the data: no y at all
        kind, name, shape, y = "image", "x", (1, 8, 8), None

    nets = InfoGAN().build(config("infogan"), Unlabelled())
    assert set(nets) == {"G", "D"}


def test_infogan_with_continuous_codes_only(tmp_path):
    tr = trainer(
        "infogan", tmp_path, **{"options.info_categorical": 0, "options.info_continuous": 3}
    )
    tr.train_step()
    assert tr.sampler(ema=False).grid(tr.fixed_z).shape == (20, 1, 8, 8)
    assert tr.nets["D"].outputs(tr.batcher.next()["x"])[1].shape == (32, 3)


@pytest.mark.parametrize("case", ["cgan-projection", "acgan", "infogan"])
@pytest.mark.parametrize(
    "tricks",
    [
        {"tricks.feature_matching": True},
        {"tricks.unrolled_steps": 2},
        {"tricks.instance_noise": 0.1, "tricks.label_smoothing": 0.1},
        {"train.loss": "wgan-gp"},
        {"tricks.r1_weight": 1.0, "tricks.historical_averaging": 0.1, "tricks.soft_labels": 0.1},
    ],
    ids=["feature_matching", "unrolled", "noise+smoothing", "wgan-gp", "r1+history+soft"],
)
def test_loss_tricks_compose_with_conditional_variants(case, tricks, tmp_path):
    if "tricks.unrolled_steps" in tricks and case != "cgan-projection":
        with pytest.raises(ConfigError, match="unrolled_steps is not supported"):
            trainer(case, tmp_path, **tricks)
        return
    if any(k in tricks for k in ("train.loss", "tricks.r1_weight")):
        # a per-sample gradient penalty: a BatchNorm D is refused (issue 19), a layer-norm one
        # trains; the MLP discriminators have no normalisation and need no change
        if case == "acgan":
            # acgan-fashion's minibatch discrimination couples the batch: refused with a penalty
            with pytest.raises(ConfigError, match="minibatch_disc couples the samples"):
                trainer(case, tmp_path / "mbd", **tricks)
            tricks = {**tricks, "tricks.minibatch_disc": False}
        try:
            tr = trainer(case, tmp_path, **tricks)
        except ConfigError as exc:
            assert "BatchNorm" in str(exc) and "model.d_norm=layer" in str(exc)
            tr = trainer(case, tmp_path / "layer", **tricks, **{"model.d_norm": "layer"})
            assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in tr.nets["D"].modules())
    else:
        tr = trainer(case, tmp_path, **tricks)
    g0 = [p.clone() for p in tr.nets["G"].parameters()]
    tr.train_step()
    tr.train_step()
    assert all(torch.isfinite(p).all() for p in tr.nets["G"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(g0, tr.nets["G"].parameters()))


@pytest.mark.parametrize("case", ["acgan", "infogan"])
@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_one_pass_of_d_per_batch(case, noise, tmp_path):
    # issue 13: the adversarial logits and the extra head come from the same pass over D's
    # body, also under instance noise (where the head then sees the noisy inputs, as D does)
    tr = trainer(case, tmp_path, **{"tricks.instance_noise": noise, "train.ema": 0.0})
    calls = []
    tr.nets["D"].register_forward_hook(lambda *a: calls.append(1))
    d_phase, g_phase = tr.phases
    for phase, want in ((d_phase, 2), (g_phase, 1)):  # D: real and fake; G: its samples
        calls.clear()
        terms = phase.loss(context(tr, real=phase.uses_data))
        assert len(calls) == want
        assert {"d_class", "d_info", "g_class", "g_info"} & set(terms)


def test_network_tricks_are_refused_clearly(tmp_path):
    with pytest.raises(ConfigError, match="not supported by train.variant=cgan"):
        trainer("cgan-projection", tmp_path, **{"tricks.spectral_norm": True})


def test_acgan_real_only_class_loss(tmp_path):
    tr = trainer("acgan", tmp_path, **{"options.ac_fake_class": False})
    ctx = context(tr)
    fake, y_fake = tr.variant.fake_batch(tr.nets, ctx)
    terms = tr.variant.extra_d_terms(tr.nets, ctx, ctx.real, fake, y_fake)
    want = F.cross_entropy(tr.nets["D"].outputs(ctx.real)[1], ctx.labels)
    assert torch.allclose(terms["d_class"], want)


def test_tacgan_twin_learns_fakes_and_g_is_pushed_from_it(tmp_path):
    """Gong et al. 2019, Eq. 7: D adds the twin C^mi's cross-entropy on G's samples; G's class
    term is C's cross-entropy on its samples minus C^mi's."""
    tr = trainer("tacgan", tmp_path, **{"options.ac_weight": 0.5})
    ctx = context(tr)
    fake, y_fake = tr.variant.fake_batch(tr.nets, ctx)
    D = tr.nets["D"]
    c_real, c_fake = D.outputs(ctx.real)[1], D.outputs(fake)[1]
    terms = tr.variant.extra_d_terms(tr.nets, ctx, ctx.real, fake, y_fake)
    want = F.cross_entropy(c_real[:, :10], ctx.labels) + F.cross_entropy(c_fake[:, 10:], y_fake)
    assert torch.allclose(terms["d_class"], 0.5 * want)
    g = tr.variant.extra_g_terms(tr.nets, ctx, fake, y_fake)["g_class"]
    want_g = F.cross_entropy(c_fake[:, :10], y_fake) - F.cross_entropy(c_fake[:, 10:], y_fake)
    assert torch.allclose(g, 0.5 * want_g)
    # the twin's logits are not the classifier's: the two heads are separate weights
    assert not torch.allclose(c_fake[:, :10], c_fake[:, 10:])


def test_acgan_takes_minibatch_discrimination_and_spectral_norm(tmp_path):
    """AC-GAN's D sees the image only: minibatch discrimination (against within-class
    collapse) and spectral norm go into its body; packing is still refused."""
    over = {"tricks.minibatch_disc": True, "tricks.mbd_kernels": 4, "tricks.spectral_norm": True}
    tr = trainer("acgan", tmp_path, **over)
    D = tr.nets["D"]
    assert D.spec["kwargs"]["base_kwargs"]["minibatch_disc"] is True
    x = tr.variant.fake_batch(tr.nets, context(tr))[0].detach()
    plain = trainer("acgan", tmp_path, name="plain", **{"tricks.minibatch_disc": False}).nets["D"]
    with torch.no_grad():
        D.eval(), plain.eval()  # BatchNorm on running statistics: per image
        # the closeness features make one image's logit depend on the rest of the batch
        assert not torch.allclose(D(x[:4])[:2], D(x)[:2])
        assert torch.allclose(plain(x[:4])[:2], plain(x)[:2], atol=1e-6)
    D.train()
    tr.train_step()
    with pytest.raises(ConfigError, match="tricks.pack"):
        trainer("acgan", tmp_path, name="pack", **{"tricks.pack": 2})
