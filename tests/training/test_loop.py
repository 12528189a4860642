"""The one training loop: phases, k-step count, frozen networks, EMA, determinism, resume."""

import torch

from gankit import api
from gankit.runs import RunDir
from gankit.training.loop import Trainer


def make_trainer(cfg, tmp_path, name="run"):
    return Trainer(cfg, RunDir.create(tmp_path / name, cfg))


def test_k_discriminator_steps_per_generator_step(toy_cfg, tmp_path):
    tr = make_trainer(toy_cfg(**{"train.d_steps": 3}), tmp_path)
    calls = {"D": 0, "G": 0}
    for phase in tr.phases:
        inner = phase.loss

        def counted(ctx, inner=inner, name=phase.name):
            calls[name] += 1
            return inner(ctx)

        phase.loss = counted
    for _ in range(5):
        tr.train_step()
    assert calls == {"D": 15, "G": 5}
    assert tr.step == 5
    assert tr.batcher.position == 15 * 64  # one real batch per D update, none for G


def test_generator_step_leaves_discriminator_untouched(toy_cfg, tmp_path):
    tr = make_trainer(toy_cfg(), tmp_path)
    tr.train_step()  # populate optimizer state
    d_before = {k: v.clone() for k, v in tr.nets["D"].state_dict().items()}
    d_grads = [p.grad.clone() for p in tr.nets["D"].parameters()]
    g_before = {k: v.clone() for k, v in tr.nets["G"].state_dict().items()}
    g_phase = next(p for p in tr.phases if p.name == "G")
    tr.phases = [g_phase]
    tr.train_step()
    assert all(torch.equal(v, tr.nets["D"].state_dict()[k]) for k, v in d_before.items())
    # no gradient flowed into D: its grads are still those of the last D update
    assert all(torch.equal(g, p.grad) for g, p in zip(d_grads, tr.nets["D"].parameters()))
    assert any(not torch.equal(v, tr.nets["G"].state_dict()[k]) for k, v in g_before.items())


def test_discriminator_step_leaves_generator_untouched(digits_cfg, tmp_path):
    tr = make_trainer(digits_cfg(), tmp_path)
    g_before = {k: v.clone() for k, v in tr.nets["G"].state_dict().items()}
    tr.phases = [p for p in tr.phases if p.name == "D"]
    tr.train_step()
    # G ran in train mode under no_grad in the D step, which updates BN running stats only.
    params = dict(tr.nets["G"].named_parameters())
    assert all(torch.equal(g_before[k], p) for k, p in params.items())


def test_ema_tracks_generator(toy_cfg, tmp_path):
    tr = make_trainer(toy_cfg(**{"train.ema": 0.9}), tmp_path)
    ema0 = [p.clone() for p in tr.emas["G"].module.parameters()]
    old_g = [p.clone() for p in tr.nets["G"].parameters()]
    tr.train_step()
    for e0, g_old, g_new, e1 in zip(
        ema0, old_g, tr.nets["G"].parameters(), tr.emas["G"].module.parameters()
    ):
        assert torch.equal(e0, g_old)  # starts as a copy
        assert torch.allclose(e1, 0.9 * e0 + 0.1 * g_new, atol=1e-6)


def test_seeded_runs_are_identical(toy_cfg, tmp_path):
    a = make_trainer(toy_cfg(**{"train.seed": 7}), tmp_path, "a")
    b = make_trainer(toy_cfg(**{"train.seed": 7}), tmp_path, "b")
    c = make_trainer(toy_cfg(**{"train.seed": 8}), tmp_path, "c")
    for tr in (a, b, c):
        tr.train(12)
    wa, wb, wc = (tr.nets["G"].state_dict() for tr in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def _weights(run_dir):
    ckpt = RunDir.open(run_dir).load_checkpoint()
    return {k: v for k, v in ckpt.tensors.items() if not k.startswith("rng.")}, ckpt.step


def _assert_resume_bitwise(cfg_fn, tmp_path, s, **overrides):
    cfg = cfg_fn(**{"train.deterministic": True, **overrides})
    api.train(cfg, tmp_path / "full", steps=2 * s)
    cfg = cfg_fn(**{"train.deterministic": True, **overrides})
    api.train(cfg, tmp_path / "half", steps=s)
    api.resume(tmp_path / "half", steps=2 * s)
    full, step_f = _weights(tmp_path / "full")
    half, step_h = _weights(tmp_path / "half")
    assert step_f == step_h == 2 * s
    assert full.keys() == half.keys()
    diff = [k for k in full if not torch.equal(full[k], half[k])]
    assert not diff, f"resumed run differs in {diff[:5]}"
    stats_f = [r["step"] for r in RunDir(tmp_path / "full").read_stats()]
    stats_h = [r["step"] for r in RunDir(tmp_path / "half").read_stats()]
    # the stopped run also logged its stop step; otherwise the records line up
    assert sorted(set(stats_f) | {s}) == stats_h


def test_resume_equals_uninterrupted_toy(toy_cfg, tmp_path):
    # s = 13 is not a multiple of the checkpoint interval: the stop lands mid-epoch.
    _assert_resume_bitwise(toy_cfg, tmp_path, 13, **{"train.ema": 0.99, "train.d_steps": 2})


def test_resume_equals_uninterrupted_dcgan(digits_cfg, tmp_path):
    _assert_resume_bitwise(digits_cfg, tmp_path, 12, **{"train.ema": 0.9})


def test_steps_for_epochs(digits_cfg, tmp_path):
    tr = make_trainer(digits_cfg(**{"train.d_steps": 2}), tmp_path)
    per_epoch = tr.batcher.batches_per_epoch // 2
    assert tr.steps_for_epochs(3) == 3 * per_epoch


def test_epoch_grids_land_on_the_last_step_of_each_epoch(digits_cfg, tmp_path):
    # an epoch ends when its last full batch is drawn, so with log.sample_every=0 the grid
    # after epoch e is named by step e * batches_per_epoch, not one step into epoch e + 1
    tr = make_trainer(digits_cfg(**{"log.sample_every": 0}), tmp_path)
    per_epoch = tr.batcher.batches_per_epoch
    tr.train(2 * per_epoch + 3)
    names = sorted(p.name for p in tr.run.samples_dir.glob("step_*.png"))
    expected = [0, per_epoch, 2 * per_epoch, 2 * per_epoch + 3]
    assert names == [f"step_{s:08d}.png" for s in expected]


def test_ema_generator_carries_the_live_batchnorm_statistics(digits_cfg, tmp_path):
    # issue 19: the EMA G samples in eval mode, so its BatchNorm running statistics must be
    # the live G's; averaging weights alone (or dropping the buffer copy) would sample with
    # the statistics of the initial network
    tr = make_trainer(digits_cfg(**{"train.ema": 0.9}), tmp_path)
    for _ in range(3):
        tr.train_step()
    live, ema = tr.nets["G"], tr.emas["G"].module
    stats = [n for n, _ in live.named_buffers() if n.endswith(("running_mean", "running_var"))]
    assert stats, "the DCGAN generator has BatchNorm buffers"
    live_b, ema_b = dict(live.named_buffers()), dict(ema.named_buffers())
    for name in stats:
        assert torch.equal(live_b[name], ema_b[name]), name
    assert not torch.equal(live_b[stats[0]], torch.zeros_like(live_b[stats[0]]))


def test_ema_with_decay_zero_samples_as_the_live_generator(digits_cfg, tmp_path):
    # decay 0 makes the average the latest weights: its eval-mode samples are the live G's
    from gankit.training.ema import EMA

    tr = make_trainer(digits_cfg(), tmp_path)
    avg = EMA(tr.nets["G"], decay=0.0)
    for _ in range(3):
        tr.train_step()
        avg.update(tr.nets["G"])
    z = torch.randn(16, tr.cfg.model.z_dim, generator=torch.Generator().manual_seed(0))
    G = tr.nets["G"].eval()
    with torch.no_grad():
        assert torch.equal(avg.module(z), G(z))


def test_ema_window_warning_only_for_long_windows():
    from gankit.training.loop import ema_window_note

    note = ema_window_note(0.999, 3000)  # the README's old setting: a third of the run
    assert note is not None and "1000 steps" in note and "33%" in note and "0.9967" in note
    assert ema_window_note(0.99, 3000) is None
    assert ema_window_note(0.999, 20000) is None
