"""The variant contract (DESIGN "Testing"), run on EVERY registered variant.

Each variant is set up from the first preset that selects it (``train.variant``), made tiny by
universal overrides, so a new variant gets this suite for free once it registers a preset.
Checks: output shapes of every export, one update of a phase changes only the networks it
names, k updates per step and the phase schedule, checkpoint round trip, seeded determinism,
resume equals uninterrupted, and sample / apply from a copy of the run directory alone.
"""

from __future__ import annotations

import dataclasses
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit import api
from gankit.applying import apply
from gankit.errors import RunError
from gankit.nn.modes import evaluating
from gankit.presets import PRESETS, preset_config
from gankit.runs import RunDir, load_generator, load_model, run_exports
from gankit.training.loop import Trainer
from gankit.variants import VARIANTS

NAMES = VARIANTS.names()
STEPS = 4  # trained runs: STEPS straight, and STEPS // 2 + resume; stats / checkpoints every 2

# What makes any preset run in about a second: tiny widths, batches and data, no extras.
TINY = {
    "train.steps": STEPS,
    "train.batch_size": 16,
    "train.deterministic": True,
    "train.device": "cpu",
    "train.ema": 0.9,  # EMA copies take part in checkpoints, resume and loading
    "log.progress": False,
    "log.stats_every": 2,
    "log.checkpoint_every": 2,
    "log.sample_every": 2,
    "log.n_fixed": 16,
    "log.toy_frames": False,
    "diagnose.enabled": False,
    "eval.metrics": "",
    "model.hidden": 16,
    "model.layers": 2,
    "model.g_channels": 8,
    "model.d_channels": 8,
    "data.n_samples": 256,
}
DOWNLOADED = ("mnist", "fashion-mnist")  # swapped for the embedded 8x8 digits at 16x16
USER_DATA = ("folder", "array")  # need data.root: not usable as a tiny setup


def preset_for(variant: str) -> str:
    """The first preset that trains ``variant`` (one on built-in data where there is one)."""
    found = [n for n, p in PRESETS.items() if p.overrides.get("train.variant") == variant]
    if not found:
        pytest.fail(
            f"variant {variant!r} has no preset (no preset sets train.variant={variant}); "
            "register one beside the variant (gankit.presets.register_preset) so that the "
            "contract suite can run it."
        )
    builtin = [n for n in found if PRESETS[n].overrides.get("data.name") not in USER_DATA]
    return (builtin or found)[0]


def tiny_config(variant: str, **kw):
    name = preset_for(variant)
    over = dict(TINY)
    if PRESETS[name].overrides.get("data.name") in DOWNLOADED:
        over.update({"data.name": "digits", "data.image_size": 16})
    cfg = preset_config(name, {**over, **kw})
    assert cfg.train.variant == variant
    return cfg


def make_trainer(variant: str, path, **kw) -> Trainer:
    cfg = tiny_config(variant, **kw)
    return Trainer(cfg, RunDir.create(path, cfg))


@pytest.fixture(autouse=True)
def _restore_determinism():
    """train.deterministic switches a process-wide torch flag; give it back."""
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def _checkpoint_tensors(run_dir) -> tuple[dict[str, torch.Tensor], int]:
    ckpt = RunDir.open(run_dir).load_checkpoint()
    return ckpt.tensors, ckpt.step


def _assert_bitwise(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    assert a.keys() == b.keys(), f"{what}: different entries {sorted(a.keys() ^ b.keys())[:5]}"
    diff = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diff, f"{what}: differ in {diff[:5]}"


@pytest.fixture(scope="module", params=NAMES)
def trained(request, tmp_path_factory):
    """Three tiny runs of one variant, shared by the checks that need trained runs: ``full``
    (STEPS steps), ``twin`` (the same again) and ``half`` (STEPS // 2, then resumed)."""
    variant = request.param
    base = tmp_path_factory.mktemp(f"contract-{variant}")
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)  # tiny networks: faster on one thread (tests/conftest.py)
    try:
        api.train(tiny_config(variant), base / "full", steps=STEPS)
        api.train(tiny_config(variant), base / "twin", steps=STEPS)
        # an interrupted run: configured for STEPS (schedules such as instance-noise
        # annealing and train.lr_decay are fractions of train.steps), stopped half way
        cfg = tiny_config(variant)
        Trainer(cfg, RunDir.create(base / "half", cfg)).train(STEPS // 2)
        api.resume(base / "half")
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    yield SimpleNamespace(
        variant=variant, full=base / "full", twin=base / "twin", half=base / "half", base=base
    )


def test_every_variant_has_a_preset():
    missing = [
        v for v in NAMES if not any(p.overrides.get("train.variant") == v for p in PRESETS.values())
    ]
    assert not missing, f"variants without a preset (the contract suite cannot run them): {missing}"


# --- 1. output shapes --------------------------------------------------------------------------
@pytest.mark.parametrize("variant", NAMES)
def test_output_shapes(variant, tmp_path):
    tr = make_trainer(variant, tmp_path / "run")
    assert tr.exports, f"{variant} exports nothing to use after training"
    n = 5
    item = tuple(tr.data.shape)
    G = tr.sampler()
    if "sample" in tr.exports:
        assert G is not None
        assert list(tr.exports["sample"].output["shape"]) == list(item)
        x = G.sample(n, seed=0)
        assert tuple(x.shape) == (n, *item), f"{variant} samples {tuple(x.shape)}"
        assert x.dtype == torch.float32 and torch.isfinite(x).all()
        if tr.data.kind == "image":
            assert x.abs().max() <= 1  # images in [-1, 1]
    else:
        assert G is None
    maps = {k: e for k, e in tr.exports.items() if e.kind == "map"}
    gen = torch.Generator().manual_seed(0)
    for name, e in maps.items():
        shape = list(e.input["shape"])
        x = torch.rand((n, *shape), generator=gen) * 2 - 1  # images in [-1, 1]; vectors
        net = tr.model(name)
        with torch.no_grad(), evaluating(net):
            y = getattr(net, e.call)(x)
        y = y[e.index] if e.index is not None else y
        assert tuple(y.shape) == (n, *e.output["shape"]), (
            f"{variant} export {name!r}: {tuple(x.shape)} -> {tuple(y.shape)}, "
            f"declared {e.output['shape']}"
        )


# --- 2. one update of a phase changes exactly the networks it names -------------------------
def _params(nets) -> dict[tuple[str, str], torch.Tensor]:
    return {
        (m, k): p.detach().clone() for m, net in nets.items() for k, p in net.named_parameters()
    }


def _grads(nets) -> dict[tuple[str, str], torch.Tensor | None]:
    return {
        (m, k): None if p.grad is None else p.grad.clone()
        for m, net in nets.items()
        for k, p in net.named_parameters()
    }


@pytest.mark.parametrize("variant", NAMES)
def test_phase_updates_only_its_modules(variant, tmp_path):
    tr = make_trainer(variant, tmp_path / "run")
    all_phases = list(tr.phases)
    tr.train_step()  # every phase once: optimizer state and .grad exist everywhere
    for phase in all_phases:
        unknown = set(phase.modules) - set(tr.nets)
        assert not unknown, f"{variant} phase {phase.name} names unknown networks {unknown}"
        # the first step it runs at (a scheduled phase may run only before a switch)
        step = next((s for s in range(1000) if phase.runs_at(s)), None)
        assert step is not None, f"{variant} phase {phase.name} never runs"
        tr.step = step
        tr.phases = [phase]
        before, grads = _params(tr.nets), _grads(tr.nets)
        tr.train_step()
        after = _params(tr.nets)
        for (m, k), old in before.items():
            if m in phase.modules:
                continue
            assert torch.equal(old, after[(m, k)]), (
                f"{variant} phase {phase.name} (modules {phase.modules}) changed {m}.{k}"
            )
            g_old, g_new = grads[(m, k)], tr.nets[m].get_parameter(k).grad
            assert (g_old is None and g_new is None) or (
                g_old is not None and g_new is not None and torch.equal(g_old, g_new)
            ), f"{variant} phase {phase.name}: a gradient flowed into frozen {m}.{k}"
        for m in phase.modules:
            keys = [key for key in before if key[0] == m]
            if keys:
                assert any(not torch.equal(before[key], after[key]) for key in keys), (
                    f"{variant} phase {phase.name} names {m} but left all its parameters as "
                    "they were"
                )
    tr.phases = all_phases


# --- 3. k updates per step and the schedule ---------------------------------------------------
def _count_calls(phases) -> dict[str, list[int]]:
    """Wrap each phase's loss; returns phase name -> the ctx.step of every call."""
    calls: dict[str, list[int]] = {p.name: [] for p in phases}
    for phase in phases:
        inner = phase.loss

        def counted(ctx, inner=inner, name=phase.name):
            calls[name].append(ctx.step)
            return inner(ctx)

        phase.loss = counted
    return calls


@pytest.mark.parametrize("variant", NAMES)
def test_k_updates_per_step(variant, tmp_path):
    k = 2
    tr = make_trainer(variant, tmp_path / "run", **{"train.d_steps": k})
    d = [p for p in tr.phases if p.name == "D"]
    for p in d:  # train.d_steps is k of Algorithm 1: the discriminator phase's repeat
        assert p.repeat == k, f"{variant} phase D repeats {p.repeat} times, train.d_steps={k}"
    calls = _count_calls(tr.phases)
    drawn = []
    inner_next = tr.batcher.next

    def next_batch():
        drawn.append(tr.step)
        return inner_next()

    tr.batcher.next = next_batch
    for step in range(3):
        tr.train_step()
        for p in tr.phases:
            want = p.repeat if p.runs_at(step) else 0
            got = calls[p.name].count(step)
            assert got == want, f"{variant} step {step}: phase {p.name} ran {got}x, want {want}"
        want_batches = sum(p.repeat for p in tr.phases if p.uses_data and p.runs_at(step))
        assert drawn.count(step) == want_batches, f"{variant} step {step}: real batches drawn"
    assert tr.step == 3


def test_phase_schedule_every_start_stop_when(tmp_path):
    """The loop runs a phase exactly where its schedule says, independent of the variant."""
    tr = make_trainer("gan", tmp_path / "run")
    by_name = {p.name: p for p in tr.phases}
    assert set(by_name) == {"D", "G"}
    # dataclasses.replace re-runs Phase's validation; the names keep their optimizers
    d = dataclasses.replace(by_name["D"], start=3, stop=5, repeat=2)
    g = dataclasses.replace(by_name["G"], every=2, start=1, when=lambda s: s != 5)
    tr.phases = [d, g]
    calls = _count_calls(tr.phases)
    d_before = {k: v.clone() for k, v in tr.nets["D"].state_dict().items()}
    for _ in range(3):
        tr.train_step()  # steps 0-2: D is not due yet
    assert all(torch.equal(v, tr.nets["D"].state_dict()[k]) for k, v in d_before.items())
    for _ in range(5):
        tr.train_step()
    assert tr.step == 8
    assert calls["D"] == [3, 3, 4, 4]  # start <= s < stop, repeat 2
    assert calls["G"] == [1, 3, 7]  # (s - 1) % 2 == 0 and when(s)
    for p in (d, g):
        assert [s for s in range(8) if p.runs_at(s)] == sorted(set(calls[p.name]))
    with pytest.raises(ValueError):
        dataclasses.replace(by_name["G"], every=0)


# --- 4. checkpoint round trip -------------------------------------------------------------------
@pytest.mark.parametrize("variant", NAMES)
def test_checkpoint_round_trip(variant, tmp_path):
    a = make_trainer(variant, tmp_path / "a")
    a.train_step()
    a.train_step()
    a.save_checkpoint()
    ckpt = a.run.load_checkpoint()
    assert ckpt.step == a.step == 2
    b = make_trainer(variant, tmp_path / "b")
    b.load_state(ckpt.tensors, ckpt.meta, ckpt.step)
    assert b.step == a.step
    (ta, ma), (tb, mb) = a.state(), b.state()
    _assert_bitwise(ta, tb, f"{variant} state after a save / load")
    for key in ("optimizers", "batcher", "stats_counts", "exports", "networks"):
        assert ma[key] == mb[key], f"{variant} checkpoint meta {key!r} differs after loading"
    # the file holds the whole state, every tensor as the trainer had it
    _assert_bitwise(ta, ckpt.tensors, f"{variant} checkpoint file")


# --- 5. seeded determinism ----------------------------------------------------------------------
def test_seeded_runs_are_bitwise_equal(trained):
    full, step_f = _checkpoint_tensors(trained.full)
    twin, step_t = _checkpoint_tensors(trained.twin)
    assert step_f == step_t == STEPS
    _assert_bitwise(full, twin, f"{trained.variant}: two runs with the same seed")
    # and training moved the weights (the comparison is not between two untouched inits)
    init = make_trainer(trained.variant, trained.base / "init")
    moved = [
        m
        for m, net in init.nets.items()
        if any(not torch.equal(v, full[f"{m}.{k}"]) for k, v in net.state_dict().items())
    ]
    assert moved, f"{trained.variant}: no network changed in {STEPS} steps"


# --- 6. resume equals uninterrupted ---------------------------------------------------------------
def test_resume_equals_uninterrupted(trained):
    full, step_f = _checkpoint_tensors(trained.full)
    half, step_h = _checkpoint_tensors(trained.half)
    assert step_f == step_h == STEPS
    _assert_bitwise(full, half, f"{trained.variant}: resumed at {STEPS // 2} vs straight")

    def records(run_dir):
        return [
            {k: v for k, v in r.items() if k != "sec_per_step"}
            for r in RunDir(run_dir).read_stats()
        ]

    rf, rh = records(trained.full), records(trained.half)
    assert [r["step"] for r in rf] == list(range(2, STEPS + 1, 2))
    assert any(k.startswith("loss/") for k in rf[-1])
    assert rf == rh, f"{trained.variant}: stats.jsonl of the resumed run differs"


# --- 7. sample and apply from the run directory alone -------------------------------------------
def _input_for(e, n: int, rng: np.random.Generator) -> np.ndarray:
    shape = (n, *e.input["shape"])
    if e.input["kind"] == "image":
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(np.float32)


def test_sample_and_apply_from_a_copied_run(trained, tmp_path):
    copy = tmp_path / "elsewhere" / "run"
    shutil.copytree(trained.full, copy)
    exports = run_exports(copy)
    assert exports, f"{trained.variant}: the checkpoint lists no exports"
    meta = RunDir.open(copy).load_checkpoint().meta
    kind, item = meta["data_kind"], tuple(meta["data_shape"])
    n = 6
    if "sample" in exports:
        G = load_generator(copy)
        x = G.sample(n, seed=0)
        assert tuple(x.shape) == (n, *item)
        assert torch.equal(x, load_generator(copy).sample(n, seed=0))  # seeded
        arr = api.sample(copy, n, seed=0)
        assert arr.shape == (n, *item)
        assert arr.dtype == (np.uint8 if kind == "image" else np.float32)
    else:
        with pytest.raises(RunError) as err:
            load_generator(copy)
        msg = str(err.value)
        assert msg and "\n" not in msg, f"not one line: {msg!r}"
    rng = np.random.default_rng(0)
    for name, e in exports.items():
        if e.kind != "map":
            continue
        src, out = tmp_path / f"in_{name}.npy", tmp_path / "out" / f"{name}.npy"
        np.save(src, _input_for(e, n, rng))
        summary = apply(copy, src, out, export=name)
        assert summary["written"] == n and not summary["skipped"]
        y = np.load(out)
        assert y.shape == (n, *e.output["shape"]), f"{trained.variant} apply {name}: {y.shape}"
        assert y.dtype == (np.uint8 if e.output["kind"] == "image" else np.float32)
        assert np.isfinite(y.astype(np.float64)).all()
        model = load_model(copy, export=name)
        assert tuple(model(torch.zeros((2, *e.input["shape"]))).shape) == (
            2,
            *e.output["shape"],
        )
    with pytest.raises(RunError) as err:
        load_model(copy, export="no-such-export")
    assert "\n" not in str(err.value)
