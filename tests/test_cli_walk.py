"""A new user's mistakes (issue 19): each gives one line, exits non-zero, and leaves an --out
that the corrected command can use."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.runs import RunDir
from tests.conftest import TINY_TOY
from tests.test_cli import assert_one_line_error, run_cli, sets


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("train.lr_g", "-1", "train.lr_g=-1.0 must be a positive number"),
        ("train.lr_d", "0", "train.lr_d=0.0 must be a positive number"),
        ("train.beta1", "1.5", "train.beta1=1.5 must be in [0, 1)"),
        ("train.beta2", "-0.1", "train.beta2=-0.1 must be in [0, 1)"),
        ("train.precision", "fp8", "train.precision='fp8'"),
        ("model.hidden", "0", "model.hidden=0 must be at least 1"),
        ("data.channels", "2", "data.channels=2 must be 1, 3 or none"),
        ("train.device", "cuda:7", "train.device=cuda:7 but this machine has"),
        ("train.device", "gpu", "train.device='gpu' is not a device"),
    ],
)
def test_out_of_range_value_leaves_no_run_behind(capsys, tmp_path, key, value, needle):
    out = tmp_path / "R"
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", out, "--steps", 4, "--quiet",
        *sets(TINY_TOY), "--set", f"{key}={value}",
    )  # fmt: skip
    assert_one_line_error(code, err, needle)
    assert not out.exists()
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", out, "--steps", 4, "--quiet", *sets(TINY_TOY)
    )
    assert code == 0, err


def test_setup_crash_leaves_no_run_behind(tmp_path, monkeypatch):
    """Any failure before the first step (not only gankit's own errors) undoes the new run."""
    from gankit import api

    def boom(cfg, run):
        raise RuntimeError("simulated failure while building the trainer")

    monkeypatch.setattr(api, "_trainer", boom)
    (tmp_path / "keep.txt").write_text("the user's file")
    with pytest.raises(RuntimeError, match="simulated"):
        api.train("toy-ring", tmp_path, steps=4, overrides=TINY_TOY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_diverged_at_step_one_resumes_with_a_lower_rate(capsys, tmp_path):
    run = tmp_path / "R"
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", run, "--steps", 10, "--quiet",
        *sets(TINY_TOY), "--set", "train.lr_d=1e20", "--set", "diagnose.enabled=false",
    )  # fmt: skip
    assert code != 0 and f"gankit resume {run} --set train.lr_d=" in err, err
    assert not RunDir(run).checkpoint_paths()
    code, _, err = run_cli(capsys, "sample", run, "--n", 4, "--out", tmp_path / "s.npy")
    assert_one_line_error(code, err, "has no checkpoint yet", f"gankit resume {run}")
    code, _, err = run_cli(capsys, "resume", run, "--quiet", "--set", "train.lr_d=2e-4")
    assert code == 0, err
    assert RunDir(run).config().train.lr_d == 2e-4  # kept for later resumes
    assert RunDir(run).load_checkpoint().step == 10


def test_resume_refuses_keys_that_define_the_model(capsys, tmp_path):
    run = tmp_path / "R"
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", run, "--steps", 10, "--quiet", *sets(TINY_TOY)
    )
    assert code == 0, err
    before = json.loads(RunDir(run).config_path.read_text())
    code, _, err = run_cli(capsys, "resume", run, "--set", "model.z_dim=3")
    assert_one_line_error(code, err, "--set model.z_dim cannot change when a run is resumed")
    assert json.loads(RunDir(run).config_path.read_text()) == before
    code, _, err = run_cli(
        capsys, "resume", run, "--steps", 20, "--quiet", "--set", "log.stats_every=2"
    )
    assert code == 0, err
    assert RunDir(run).config().log.stats_every == 2


def test_relative_data_root_is_stored_absolute(capsys, tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "points.npy", np.random.default_rng(0).normal(size=(256, 2)))
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", "R", "--steps", 4, "--quiet", *sets(TINY_TOY),
        "--set", "data.name=array", "--set", "data.root=points.npy",
    )  # fmt: skip
    assert code == 0, err
    assert RunDir(tmp_path / "R").config().data.root == str(tmp_path / "points.npy")
    monkeypatch.chdir(tmp_path.parent)  # resume from elsewhere finds the data
    code, _, err = run_cli(capsys, "resume", tmp_path / "R", "--steps", 8, "--quiet")
    assert code == 0, err


def test_gradient_penalty_with_a_batchnorm_critic_is_refused_then_trains(capsys, tmp_path):
    from tests.conftest import TINY_DCGAN

    run = tmp_path / "R"
    tiny = {**TINY_DCGAN, "data.image_size": 16}  # at 8x8 the DCGAN D has no hidden BatchNorm
    args = ["train", "dcgan-digits", "--out", run, "--steps", 2, "--quiet", *sets(tiny)]
    code, _, err = run_cli(capsys, *args, "--set", "train.loss=wgan-gp")
    assert_one_line_error(code, err, "BatchNorm", "model.d_norm=layer")
    assert not run.exists()
    code, _, err = run_cli(
        capsys, *args, "--set", "train.loss=wgan-gp", "--set", "model.d_norm=layer"
    )
    assert code == 0, err
    from gankit.runs import load_network, run_networks

    D = [k for k, name in run_networks(run).items() if name == "dcgan_d"]
    net = load_network(run, D[0])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in net.modules())


def test_spectral_norm_reaches_minibatch_discrimination():
    from gankit.networks import build_network
    from gankit.nn.minibatch_disc import MinibatchDiscrimination

    D = build_network(
        "dcgan_d", image_size=16, channels=1, width=8, minibatch_disc=True, spectral_norm=True
    )
    mbd = [m for m in D.modules() if isinstance(m, MinibatchDiscrimination)]
    assert len(mbd) == 1 and torch.nn.utils.parametrize.is_parametrized(mbd[0], "T")
    D.train()
    for _ in range(30):  # power iterations converge on the largest singular value
        D(torch.randn(8, 1, 16, 16))
    sigma = torch.linalg.matrix_norm(mbd[0].T.detach(), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_toy_run_leaves_no_empty_samples_folder(capsys, tmp_path):
    run = tmp_path / "R"
    code, _, err = run_cli(
        capsys, "train", "toy-ring", "--out", run, "--steps", 10, "--quiet", *sets(TINY_TOY)
    )
    assert code == 0, err
    assert not (run / "samples").exists()


def test_config_json_names_the_networks_built(capsys, tmp_path):
    from tests.conftest import TINY_DCGAN

    run = tmp_path / "R"
    args = ["train", "dcgan-digits", "--out", run, "--steps", 2, "--quiet", *sets(TINY_DCGAN)]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["generator"], model["discriminator"]) == ("dcgan", "dcgan")


@pytest.mark.parametrize(
    "preset, key, value, built",
    [("dcgan-digits", "generator", "mlp", "dcgan"), ("toy-ring", "generator", "resnet", "mlp")],
)
def test_a_network_key_the_variant_ignores_is_refused(capsys, tmp_path, preset, key, value, built):
    from tests.conftest import TINY_DCGAN

    run = tmp_path / "R"
    tiny = TINY_DCGAN if preset.startswith("dcgan") else TINY_TOY
    code, _, err = run_cli(
        capsys, "train", preset, "--out", run, "--steps", 2, "--quiet", *sets(tiny),
        "--set", f"model.{key}={value}",
    )  # fmt: skip
    assert_one_line_error(code, err, f"model.{key}={value} is not what", f"is {built}")
    assert not run.exists()
