"""Mixed precision and memory layout options of the loop (issue 8)."""

import pytest
import torch

from gankit import api
from gankit.errors import ConfigError
from gankit.runs import RunDir
from gankit.training.loop import Trainer


def test_bf16_autocast_trains_and_stays_finite(digits_cfg, tmp_path):
    cfg = digits_cfg(**{"train.precision": "bf16"})
    api.train(cfg, tmp_path / "r", steps=6)
    ckpt = RunDir(tmp_path / "r").load_checkpoint()
    weights = [
        v
        for k, v in ckpt.tensors.items()
        if k.startswith(("G.", "D.")) and not k.endswith("num_batches_tracked")
    ]
    assert all(v.dtype == torch.float32 for v in weights)  # master weights stay fp32
    assert all(torch.isfinite(v).all() for v in weights)
    assert all(r["loss/d_adv"] > 0 for r in RunDir(tmp_path / "r").read_stats())


def test_bf16_changes_the_computation(digits_cfg, tmp_path):
    a = Trainer(digits_cfg(), RunDir.create(tmp_path / "a", digits_cfg()))
    b_cfg = digits_cfg(**{"train.precision": "bf16"})
    b = Trainer(b_cfg, RunDir.create(tmp_path / "b", b_cfg))
    for tr in (a, b):
        tr.train_step()
    ga, gb = a.nets["G"].state_dict(), b.nets["G"].state_dict()
    assert any(not torch.equal(ga[k], gb[k]) for k in ga)  # autocast really ran in bf16


def test_channels_last_gives_the_same_training(digits_cfg, tmp_path):
    a = Trainer(digits_cfg(), RunDir.create(tmp_path / "a", digits_cfg()))
    cl_cfg = digits_cfg(**{"train.channels_last": True})
    b = Trainer(cl_cfg, RunDir.create(tmp_path / "b", cl_cfg))
    conv = next(m for m in b.nets["D"].modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    for tr in (a, b):
        for _ in range(3):
            tr.train_step()
    for k, v in a.nets["G"].state_dict().items():
        assert torch.allclose(v, b.nets["G"].state_dict()[k], atol=1e-4), k


def test_fp16_needs_cuda_and_unknown_precision_is_named(digits_cfg, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        cfg = digits_cfg(**{"train.precision": "fp16"})
        Trainer(cfg, RunDir.create(tmp_path / "a", cfg))
    with pytest.raises(ConfigError, match="valid: fp32, bf16, fp16"):
        cfg = digits_cfg(**{"train.precision": "fp8"})
        Trainer(cfg, RunDir.create(tmp_path / "b", cfg))


def test_compiled_networks_train_like_eager_and_keep_checkpoint_keys(digits_cfg, tmp_path):
    """train.compile: torch.compile in place, so checkpoints are those of the eager networks
    and the values agree up to kernel rounding (inductor fuses ops in another order)."""
    a = Trainer(digits_cfg(), RunDir.create(tmp_path / "a", digits_cfg()))
    c_cfg = digits_cfg(**{"train.compile": True})
    b = Trainer(c_cfg, RunDir.create(tmp_path / "b", c_cfg))
    for tr in (a, b):
        for _ in range(2):
            tr.train_step()
    assert sorted(a.state()[0]) == sorted(b.state()[0])
    for k, v in a.nets["G"].state_dict().items():
        assert torch.allclose(v, b.nets["G"].state_dict()[k], atol=1e-4), k
