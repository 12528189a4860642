"""Untrusted checkpoints: nothing is unpickled, and damaged or crafted files (bytes, JSON
metadata, tensor shapes and dtypes) raise the library's own error, nothing else."""

from __future__ import annotations

import copy
import json
import pickle
import re
from pathlib import Path

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from safetensors.torch import save as st_save

from gankit import api
from gankit.errors import GankitError
from gankit.runs import RunDir, load_generator, read_checkpoint
from gankit.training.loop import Trainer
from tests.conftest import TINY_TOY
from tests.reliability.fuzzing import BIG, JSON, damaged, fuzz

SRC = Path(__file__).resolve().parents[2] / "src" / "gankit"
SETS = {**TINY_TOY, "train.ema": 0.9, "diagnose.enabled": False, "log.checkpoint_every": 2}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A small trained run: (run dir, newest checkpoint file's bytes, its tensors, its meta)."""
    from gankit.presets import preset_config

    run = tmp_path_factory.mktemp("fuzz") / "run"
    api.train(preset_config("toy-ring", SETS), run, steps=2)
    ckpt = RunDir(run).load_checkpoint()
    return run, ckpt.path.read_bytes(), ckpt.tensors, ckpt.meta


def only_library_errors(load) -> None:
    try:
        load()
    except GankitError as exc:
        assert str(exc) and "\n" not in str(exc)


def _paths(obj, prefix=()) -> list[tuple]:
    """Every path into a JSON document (dict keys and list indices), depth first."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _edit(meta: dict, path: tuple, value, delete: bool) -> dict:
    meta = copy.deepcopy(meta)
    if not path:
        return meta
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return meta


DTYPES = [torch.float32, torch.float64, torch.float16, torch.int64, torch.uint8, torch.bool]


@st.composite
def crafted(draw, tensors: dict, meta: dict, prefixes: tuple[str, ...]) -> bytes:
    """A safetensors file like the base checkpoint with metadata values and tensors changed."""
    meta, tensors = copy.deepcopy(meta), dict(tensors)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(meta)))
        meta = _edit(meta, path, draw(JSON | BIG), draw(st.booleans()))
    names = sorted(k for k in tensors if k.startswith(prefixes))
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(names))
        shape = draw(st.lists(st.integers(0, 5), max_size=3))
        if draw(st.booleans()):
            tensors.pop(name, None)
        else:
            tensors[name] = torch.zeros(shape).to(draw(st.sampled_from(DTYPES)))
    text = json.dumps(meta) if isinstance(meta, dict) else "{}"
    return st_save(tensors, metadata={"gankit": text})


@fuzz(800)
@given(data=st.data())
def test_fuzz_checkpoint_bytes(data, base):
    run, raw, _, _ = base
    header = 8 + int.from_bytes(raw[:8], "little")
    blob = data.draw(st.one_of(st.binary(max_size=64), damaged(raw, focus=header)))
    path = run.parent / "ckpt_00000001.safetensors"
    path.write_bytes(blob)
    only_library_errors(lambda: read_checkpoint(path))


@fuzz(250)
@given(data=st.data())
@example(data=None)  # the undamaged checkpoint loads
def test_fuzz_load_generator(data, base):
    run, raw, tensors, meta = base
    blob = raw if data is None else data.draw(crafted(tensors, meta, ("G.", "G_ema.")))
    (run / "checkpoints").mkdir(exist_ok=True)
    for old in RunDir(run).checkpoints_dir.iterdir():
        old.unlink()
    (run / "checkpoints" / "ckpt_00000002.safetensors").write_bytes(blob)
    if data is None:
        assert load_generator(run).sample(3).shape == (3, 2)
    else:
        only_library_errors(lambda: load_generator(run).sample(3))


@pytest.fixture(scope="module")
def trainer(base):
    run = base[0]
    return Trainer(RunDir(run).config(), RunDir(run))


@fuzz(300)
@given(data=st.data())
def test_fuzz_resume_state(data, base, trainer):
    """What `gankit resume` loads into a trainer: every part of the state, then one step."""
    _, _, tensors, meta = base
    blob = data.draw(crafted(tensors, meta, ("",)))
    path = base[0].parent / "ckpt_00000003.safetensors"
    path.write_bytes(blob)

    def resume():
        ckpt = read_checkpoint(path)
        trainer.load_state(ckpt.tensors, ckpt.meta, ckpt.step)
        trainer.train_step()

    only_library_errors(resume)


# --- no unpickling -------------------------------------------------------------------------
def test_no_torch_load_without_weights_only():
    """A static check of the source: torch.load unpickles unless weights_only=True."""
    calls = []
    for f in SRC.rglob("*.py"):
        text = f.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            depth, end = 0, m.end() - 1
            for end in range(m.end() - 1, len(text)):  # the call's closing parenthesis
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            calls.append((f.name, text[m.start() : end + 1]))
    bad = [c for c in calls if not re.search(r"weights_only\s*=\s*True", c[1])]
    assert not bad, bad
    assert not [
        f for f in SRC.rglob("*.py") if re.search(r"^\s*import pickle", f.read_text(), re.M)
    ]


def test_loading_never_unpickles(base, monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    run = tmp_path / "run"
    api.train(__import__("gankit.presets").presets.preset_config("toy-ring", SETS), run, steps=2)
    assert load_generator(run).sample(2).shape == (2, 2)
    api.resume(run, steps=3)  # every part of the training state, read back
    assert RunDir(run).load_checkpoint().step == 3
