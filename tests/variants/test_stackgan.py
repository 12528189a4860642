"""StackGAN (Zhang et al. 2017): the stage I -> stage II schedule (only stage I's networks
move before the switch, only stage II's after it, G_0 frozen to the last buffer), resume across
the switch, the KL term, conditioning augmentation off, the matching-aware D, the exported
two-stage sampler and the preview.

Tiny runs on the embedded 8x8 digits enlarged to 28x28, with a caption embedding per image
made here (a random vector per class plus noise), so that no text encoder is needed.
"""

from __future__ import annotations

import pytest
import torch

from gankit.data import load_dataset
from gankit.data.dataset import Dataset
from gankit.errors import ConfigError
from gankit.nn.modes import evaluating
from gankit.presets import preset_config
from gankit.runs import RunDir
from gankit.training.loop import Trainer
from gankit.variants.base import StepContext
from gankit.variants.stackgan import mismatched, preview_texts

E = 12
TINY = {
    "data.name": "digits",
    "model.z_dim": 24,  # z of 8, eps_0 and eps_1 of 8 each
    "options.c_dim": 8,
    "options.text_code": 4,
    "options.res_blocks": 1,
    "model.g_channels": 8,
    "model.d_channels": 8,
    "train.batch_size": 8,
    "train.steps": 6,
    "options.stage1_steps": 3,
    "train.deterministic": True,
    "train.device": "cpu",
    "train.ema": 0.9,
    "log.progress": False,
    "log.stats_every": 1,
    "log.checkpoint_every": 2,
    "log.sample_every": 3,
    "log.n_fixed": 16,
    "diagnose.enabled": False,
    "eval.metrics": "",
}


@pytest.fixture(autouse=True)
def _one_thread_and_restore():
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det)


@pytest.fixture(scope="module")
def data() -> Dataset:
    d = load_dataset("digits", image_size=28)
    keep = torch.arange(96)
    g = torch.Generator().manual_seed(0)
    text = torch.randn(10, E, generator=g)[d.y[keep]] + 0.1 * torch.randn(96, E, generator=g)
    return Dataset(d.x[keep], d.y[keep], "image", "test-captions", d.class_names,
                   fields={"text": text})  # fmt: skip


def trainer(tmp_path, data, name="run", **kw) -> Trainer:
    cfg = preset_config("stackgan-fashion", {**TINY, **kw})
    return Trainer(cfg, RunDir.create(tmp_path / name, cfg), data=data)


def _state(net) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def _same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_stage_one_then_stage_two_with_g1_frozen(tmp_path, data):
    tr = trainer(tmp_path, data)
    assert tr.variant.switch_step(tr.cfg) == 3
    runs = {p.name: [s for s in range(6) if p.runs_at(s)] for p in tr.phases}
    assert runs == {"D1": [0, 1, 2], "G1": [0, 1, 2], "D2": [3, 4, 5], "G2": [3, 4, 5]}
    start = {k: _state(v) for k, v in tr.nets.items()}
    for _ in range(3):
        tr.train_step()
    mid = {k: _state(v) for k, v in tr.nets.items()}
    assert not _same(start["G1"], mid["G1"]) and not _same(start["D1"], mid["D1"])
    assert _same(start["G2"], mid["G2"]) and _same(start["D2"], mid["D2"])
    for _ in range(3):
        tr.train_step()
    end = {k: _state(v) for k, v in tr.nets.items()}
    # stage II: G_0 and D_0 untouched, BatchNorm running statistics included
    assert _same(mid["G1"], end["G1"]) and _same(mid["D1"], end["D1"])
    assert not _same(mid["G2"], end["G2"]) and not _same(mid["D2"], end["D2"])
    assert tr.nets["G1"].training  # eval mode only while stage II calls it


def test_switch_from_a_fraction_of_the_steps(tmp_path, data):
    tr = trainer(tmp_path, data, **{"options.stage1_steps": None, "options.stage1_fraction": 0.25,
                                    "train.steps": 40})  # fmt: skip
    assert tr.variant.switch_step(tr.cfg) == 10
    tr.cfg.train.steps = 80  # --epochs sets train.steps after the phases exist
    assert [p.runs_at(19) for p in tr.phases] == [True, True, False, False]
    assert [p.runs_at(20) for p in tr.phases] == [False, False, True, True]


def test_resume_across_the_switch_is_exact(tmp_path, data):
    straight = trainer(tmp_path, data, "straight")
    straight.train(6)
    half = trainer(tmp_path, data, "half")
    half.train(2)  # checkpoint at step 2, stage I
    ckpt = half.run.load_checkpoint()
    resumed = trainer(tmp_path, data, "resumed")
    resumed.load_state(ckpt.tensors, ckpt.meta, ckpt.step)
    resumed.train(6)
    a, b = straight.state()[0], resumed.state()[0]
    assert a.keys() == b.keys()
    assert not [k for k in a if not torch.equal(a[k], b[k])]


def test_loss_terms_per_stage(tmp_path, data):
    tr = trainer(tmp_path, data)
    tr.train(6)
    rec = tr.run.read_stats()
    first, last = rec[0], rec[-1]
    assert {"loss/d_1_adv", "loss/g_1_adv", "loss/g_1_kl"} <= set(first)
    assert not any(k.startswith("loss/") and "_2_" in k for k in first)
    assert {"loss/d_2_adv", "loss/g_2_adv", "loss/g_2_kl"} <= set(last)
    assert last["loss/g_2_kl"] > 0 and "D_2(x, wrong text)" in last
    # without conditioning augmentation: no KL term, and a deterministic c^
    off = trainer(tmp_path, data, "off", **{"options.conditioning_augmentation": False})
    off.train(6)
    assert not any(k.endswith("_kl") for r in off.run.read_stats() for k in r)


def test_kl_weight_scales_the_term(tmp_path, data):
    def kl_at_init(weight):
        tr = trainer(tmp_path, data, f"kl{weight}", **{"options.kl_weight": weight})
        g1 = next(p for p in tr.phases if p.name == "G1")
        batch = {"x": data.x[:8], "y": data.y[:8], "text": data.fields["text"][:8]}
        gen = torch.Generator().manual_seed(5)
        ctx = StepContext(tr.nets, batch["x"], batch["y"], 8, 1,
                          lambda n: torch.randn(n, 24, generator=gen), batch=batch)  # fmt: skip
        return g1.loss(ctx)["g_1_kl"].item()

    one, three = kl_at_init(1.0), kl_at_init(3.0)
    assert one > 0 and three == pytest.approx(3 * one, rel=1e-5)


def test_matching_aware_d_sees_wrong_captions(tmp_path, data):
    text = data.fields["text"][:4]
    wrong = mismatched(text)
    assert torch.equal(wrong[1:], text[:-1]) and torch.equal(wrong[0], text[-1])
    calls = []
    tr = trainer(tmp_path, data)
    D1 = tr.nets["D1"]
    inner = D1.forward

    def spy(image, t):
        calls.append(t.clone())
        return inner(image, t)

    D1.forward = spy
    tr.train_step()
    # D phase: (real, text), (fake, text), (real, wrong text); then G phase: (fake, text)
    assert len(calls) == 4
    assert torch.equal(calls[2], mismatched(calls[0])) and torch.equal(calls[0], calls[1])
    tr2 = trainer(tmp_path, data, "plain", **{"options.matching_aware": False})
    D = tr2.nets["D1"]
    count = []
    D.forward = lambda image, t, f=D.forward: count.append(1) or f(image, t)
    tr2.train_step()
    assert len(count) == 3


def test_sampler_preview_and_bad_setups(tmp_path, data):
    tr = trainer(tmp_path, data)
    tr.train(3)
    sampler = tr.model("sample")
    text = preview_texts(data)
    assert len(text) == 10 and torch.equal(
        text[0], data.fields["text"][int((data.y == 0).nonzero()[0])]
    )
    z = torch.randn(5, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), evaluating(sampler):
        s0, image = sampler.stages(z, text[:5])
    assert s0.shape == (5, 1, 14, 14) and image.shape == (5, 1, 28, 28)
    assert (tr.run.path / "samples" / "step_00000003.png").is_file()
    plain = Dataset(data.x, data.y, "image", "plain")
    with pytest.raises(ConfigError, match="captioned images"):
        trainer(tmp_path, plain, "nocap")
    with pytest.raises(ConfigError, match="model.z_dim"):
        trainer(tmp_path, data, "small", **{"model.z_dim": 16})
    with pytest.raises(ConfigError, match="model.prior=normal"):
        trainer(tmp_path, data, "uni", **{"model.prior": "uniform"})
