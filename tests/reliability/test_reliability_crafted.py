"""Crafted files that once escaped the loaders (found by the fuzz tests), each pinned here:
every one is refused with the library's own error and a message that says what is wrong."""

from __future__ import annotations

import io
import json
import math
import time
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from gankit import api
from gankit.data import load_dataset
from gankit.errors import CheckpointError, DataError
from gankit.presets import preset_config
from gankit.runs import RunDir, load_generator, read_checkpoint
from gankit.training.loop import Trainer
from tests.conftest import TINY_TOY


def _header(shape: tuple, descr: str = "<f4") -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (63 - len(text) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


def _npz(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_tiny_file_claiming_terabytes(suffix, tmp_path):
    """np.load allocates the declared shape first: 80 bytes must not ask for 75 GiB."""
    data = _header((10**10, 2)) + b"\0" * 16
    path = tmp_path / f"a{suffix}"
    if suffix == ".npy":
        path.write_bytes(data)
    else:
        _npz(path, [("x.npy", data)])
    with pytest.raises(DataError, match=r"declares shape \(10000000000, 2\) .* holds only"):
        load_dataset("array", root=path)


def test_unparsable_npy_header(tmp_path):
    path = tmp_path / "a.npy"  # numpy's header parser raises tokenize.TokenError on this
    path.write_bytes(_header((4, 2)).replace(b"}", b"(", 1) + b"\0" * 32)
    with pytest.raises(DataError, match="cannot read"):
        load_dataset("array", root=path)


def test_npz_member_that_is_not_an_array(tmp_path):
    """numpy returns such a member's raw bytes, however large they unpack."""
    path = _npz(tmp_path / "a.npz", [("x", b"\0" * 1000)])
    with pytest.raises(DataError, match="'x' in .* is not a .npy array"):
        load_dataset("array", root=path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    sets = {**TINY_TOY, "diagnose.enabled": False, "log.checkpoint_every": 2}
    path = tmp_path_factory.mktemp("crafted") / "run"
    api.train(preset_config("toy-ring", sets), path, steps=2)
    return path


def _rewrite(run, edit_meta=None, edit_tensors=None, raw_meta: str | None = None):
    """Replace the run's checkpoint with an edited copy of it."""
    ckpt = RunDir(run).load_checkpoint()
    meta, tensors = ckpt.meta, dict(ckpt.tensors)
    if edit_meta:
        edit_meta(meta)
    if edit_tensors:
        edit_tensors(tensors)
    text = raw_meta if raw_meta is not None else json.dumps(meta)
    blob = st_save(tensors, metadata={"gankit": text})
    target = run.parent / f"{run.name}-crafted"
    target.mkdir(exist_ok=True)
    (target / "config.json").write_bytes((run / "config.json").read_bytes())
    (target / "checkpoints").mkdir(exist_ok=True)
    (target / "checkpoints" / ckpt.path.name).write_bytes(blob)
    return target


def test_checkpoint_step_infinity(run):
    meta = json.dumps({**RunDir(run).load_checkpoint().meta, "step": 1}).replace(
        '"step": 1', '"step": Infinity'
    )
    bad = _rewrite(run, raw_meta=meta)
    with pytest.raises(CheckpointError, match="no valid step"):
        read_checkpoint(RunDir(bad).checkpoint_paths()[0])


def test_checkpoint_metadata_nested_too_deep(run):
    bad = _rewrite(run, raw_meta="[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="damaged or not a gankit checkpoint"):
        read_checkpoint(RunDir(bad).checkpoint_paths()[0])


def test_generator_spec_asking_for_a_huge_network(run):
    """Checked against the stored weights before anything is allocated or looped over."""

    def huge(meta):
        meta["networks"]["G"]["kwargs"]["hidden"] = 10**12

    bad = _rewrite(run, edit_meta=huge)
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match="exceeds the weights stored"):
        load_generator(bad)
    assert time.perf_counter() - t0 < 60  # a generous bound: it must not build the network


@pytest.mark.parametrize("z_dim", [2**31 - 1, 3])
def test_sample_layout_asking_for_huge_noise(run, z_dim):
    """A layout of 2**31 noise dimensions made the first sample allocate 8 GiB per row (the
    OOM the load fuzz once hit); refused before any noise is drawn."""

    def wide(meta):
        meta["exports"]["sample"]["layout"]["z_dim"] = z_dim

    with pytest.raises(CheckpointError, match="latent layout does not fit"):
        load_generator(_rewrite(run, edit_meta=wide))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.update({"G.net.0.weight": torch.zeros(3, 3)}), "do not fit its spec"),
        (lambda t: t.update({"G.net.0.weight": torch.zeros(16, 2, dtype=torch.int64)}), "fit"),
        (lambda t: t.pop("G.net.0.bias"), "do not fit its spec"),
    ],
)
def test_generator_weights_of_wrong_shape_or_dtype(run, edit, message):
    bad = _rewrite(run, edit_tensors=edit)
    with pytest.raises(CheckpointError, match=message):
        load_generator(bad)


@pytest.mark.parametrize(
    "edit_tensors, edit_meta, message",
    [
        (lambda t: t.update({"opt.D.0.exp_avg": torch.zeros(3)}), None, "exp_avg does not"),
        (lambda t: t.update({"batcher.perm": torch.zeros(2048, dtype=torch.int64)}), None, "perm"),
        (None, lambda m: m["batcher"].update(position=10**9), "past the"),
        (None, lambda m: m["optimizers"]["G"]["param_groups"][0].update(lr="fast"), "lr='fast'"),
        (None, lambda m: m["optimizers"]["G"]["param_groups"][0].pop("eps"), "lack"),
        # found by the resume fuzz: a weight decay past float32 overflowed inside Adam's step
        (
            None,
            lambda m: m["optimizers"]["D"]["param_groups"][0].update(weight_decay=2**130),
            "weight_decay",
        ),
        (None, lambda m: m["optimizers"]["G"]["param_groups"][0].update(lr=math.inf), "lr=inf"),
        # beta1 < 0 makes Adam's bias correction beta1 ** step complex
        (
            None,
            lambda m: m["optimizers"]["G"]["param_groups"][0].update(betas=[-0.5, 0.9]),
            "betas",
        ),
        (None, lambda m: m.update(world_size=None), "does not match this run"),
        (
            lambda t: t.update({"stats_sum.loss/d_adv": torch.tensor(1.0)}),
            lambda m: m.update(stats_counts={"loss/d_adv": 0}),  # a mean over 0 updates
            "stats_counts",
        ),
    ],
)
def test_training_state_that_would_fail_later(run, edit_tensors, edit_meta, message):
    """Resume refuses state that only training would trip over, deep in a later step."""
    bad = _rewrite(run, edit_meta=edit_meta, edit_tensors=edit_tensors)
    ckpt = RunDir(bad).load_checkpoint()
    tr = Trainer(RunDir(bad).config(), RunDir(bad))
    with pytest.raises(CheckpointError, match=message):
        tr.load_state(ckpt.tensors, ckpt.meta, ckpt.step)


def test_undamaged_copy_still_loads(run):
    """The editing above is not what makes those files fail."""
    good = _rewrite(run)
    assert load_generator(good).sample(2).shape == (2, 2)
    ckpt = RunDir(good).load_checkpoint()
    Trainer(RunDir(good).config(), RunDir(good)).load_state(ckpt.tensors, ckpt.meta, ckpt.step)


def test_npz_well_formed_still_loads(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez_compressed(path, x=np.zeros((4, 2), np.float32), y=np.arange(4))
    assert load_dataset("array", root=path).x.shape == (4, 2)
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 2), np.float32))
    (tmp_path / "ok.npy").write_bytes(buf.getvalue())
    assert load_dataset("array", root=tmp_path / "ok.npy").x.shape == (4, 2)
