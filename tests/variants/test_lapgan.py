"""LAPGAN (Denton et al. 2015): levels, phases, the coarse-to-fine sampler, labels, resume.

Tiny runs on the embedded 8x8 digits enlarged to 28x28, so that the pyramid is Fashion-MNIST's
28 -> 14 -> 7 (three levels) without downloaded data.
"""

import numpy as np
import pytest
import torch

from gankit import api
from gankit.cli import main
from gankit.errors import ConfigError, RunError
from gankit.nn.modes import evaluating
from gankit.nn.pyramid import gaussian_pyramid, laplacian_pyramid, upsample
from gankit.presets import preset_config
from gankit.runs import RunDir, load_generator
from gankit.training.loop import Trainer
from gankit.variants.lapgan import split_z

TINY = {
    "data.name": "digits",
    "data.image_size": 28,
    "data.n_samples": 128,
    "model.z_dim": 40,
    "model.hidden": 32,
    "model.g_channels": 8,
    "model.d_channels": 8,
    "train.batch_size": 16,
    "train.steps": 6,
    "train.deterministic": True,
    "train.device": "cpu",
    "train.ema": 0.9,
    "log.progress": False,
    "log.stats_every": 1,
    "log.checkpoint_every": 3,
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


def config(**kw):
    return preset_config("lapgan-fashion", {**TINY, **kw})


def trainer(tmp_path, name="run", **kw) -> Trainer:
    cfg = config(**kw)
    return Trainer(cfg, RunDir.create(tmp_path / name, cfg))


def test_networks_per_level_and_shapes(tmp_path):
    tr = trainer(tmp_path)
    assert sorted(tr.nets) == ["D0", "D1", "D2", "G0", "G1", "G2"]
    assert [p.name for p in tr.phases] == ["D2", "G2", "D1", "G1", "D0", "G0"]
    assert tr.variant.noise_dims == [16, 16, 8]  # z_0, z_1 of level_z; z_2 the rest of 40
    x = tr.data.x[:5]
    g, lap = gaussian_pyramid(x, 3), laplacian_pyramid(x, 3)  # lap: [h_0, h_1, I_2]
    zs = split_z(torch.randn(5, 40), tr.variant.noise_dims)
    assert tuple(tr.nets["G2"](zs[2]).shape) == tuple(lap[2].shape) == (5, 1, 7, 7)
    for k in (0, 1):  # G_k's output has the shape of the residual h_k it stands for
        low = upsample(g[k + 1])  # l_k = u(I_{k+1})
        assert tuple(tr.nets[f"G{k}"](zs[k], low).shape) == tuple(lap[k].shape)
        pair = torch.cat([low + lap[k], low], 1)
        assert tuple(tr.nets[f"D{k}"](pair).shape) == (5,)
    assert tuple(tr.nets["D2"](lap[2]).shape) == (5,)


def test_each_phase_changes_only_its_level(tmp_path):
    tr = trainer(tmp_path)
    phases = list(tr.phases)
    tr.train_step()
    for phase in phases:
        before = {
            key: {n: p.clone() for n, p in net.named_parameters()} for key, net in tr.nets.items()
        }
        tr.phases = [phase]
        tr.train_step()
        for key, net in tr.nets.items():
            moved = any(not torch.equal(p, before[key][n]) for n, p in net.named_parameters())
            assert moved == (key in phase.modules), f"phase {phase.name} and {key}: {moved}"
    tr.phases = phases


def test_turns_schedule_runs_one_level_at_a_time(tmp_path):
    tr = trainer(tmp_path, **{"options.schedule": "turns", "train.steps": 9})
    active = {s: sorted({p.name[1:] for p in tr.phases if p.runs_at(s)}) for s in range(9)}
    assert active == {s: [str(2 - s // 3)] for s in range(9)}  # coarsest first, 3 steps each
    joint = trainer(tmp_path, "joint")
    assert all(p.runs_at(s) for p in joint.phases for s in range(9))


def test_sampling_is_the_coarse_to_fine_composition(tmp_path):
    tr = trainer(tmp_path)
    for _ in range(2):
        tr.train_step()
    G = tr.sampler()
    z = torch.randn(6, 40, generator=torch.Generator().manual_seed(1))
    zs = split_z(z, tr.variant.noise_dims)
    nets = {k: tr.emas[k].module for k in ("G0", "G1", "G2")}  # the export uses the EMA copies
    with torch.no_grad(), evaluating(*nets.values()):
        image = nets["G2"](zs[2])  # I~_2 = G_2(z_2)
        for k in (1, 0):  # I~_k = u(I~_{k+1}) + G_k(z_k, u(I~_{k+1})), in [-1, 1]
            low = upsample(image)
            image = (low + nets[f"G{k}"](zs[k], low)).clamp(-1, 1)
    assert torch.allclose(G.generate(z), image, atol=1e-6)
    stages = G.net.stages(z)
    assert [tuple(s["image"].shape[-2:]) for s in stages] == [(7, 7), (14, 14), (28, 28)]
    # with the same z_2 and z_1 but a new z_0 only the finest residual changes
    z2 = z.clone()
    z2[:, -16:] = torch.randn(6, 16)
    with torch.no_grad():
        a, b = G.net.stages(z), G.net.stages(z2)
    assert torch.equal(a[1]["image"], b[1]["image"])
    assert not torch.equal(a[2]["residual"], b[2]["residual"])


def test_save_load_round_trip_of_the_sampler(tmp_path):
    run = api.train(config(), tmp_path / "run", steps=3)
    G = load_generator(run.path)
    assert tuple(G.sample(4, seed=0).shape) == (4, 1, 28, 28)
    cfg = config()
    live = Trainer(cfg, RunDir.create(tmp_path / "live", cfg))
    for _ in range(3):
        live.train_step()
    assert torch.equal(G.sample(5, seed=3), live.sampler().sample(5, seed=3))
    assert not torch.equal(G.sample(5, seed=3), G.sample(5, seed=4))
    # the levels picture is written beside each sample grid
    assert sorted(p.name for p in run.samples_dir.glob("levels_*.png"))


def test_resume_mid_level_equals_uninterrupted(tmp_path):
    kw = {"options.schedule": "turns", "train.steps": 9, "log.checkpoint_every": 4}
    api.train(config(**kw), tmp_path / "full", steps=9)
    cfg = config(**kw)
    Trainer(cfg, RunDir.create(tmp_path / "half", cfg)).train(4)  # stops inside level 1 (3-5)
    api.resume(tmp_path / "half")
    a, b = (RunDir.open(tmp_path / r).load_checkpoint() for r in ("full", "half"))
    assert a.step == b.step == 9 and a.tensors.keys() == b.tensors.keys()
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    # every level trained in its turn: the finest G moved from its initial weights
    init = Trainer(cfg, RunDir.create(tmp_path / "init", cfg)).nets["G0"].state_dict()
    assert any(not torch.equal(v, a.tensors[f"G0.{k}"]) for k, v in init.items())


def test_conditional_labels_reach_every_level(tmp_path, capsys):
    run = api.train(config(**{"options.conditional": True}), tmp_path / "run", steps=3)
    G = load_generator(run.path)
    assert G.layout.num_classes == 10
    a, b = G.sample(4, seed=0, label=1), G.sample(4, seed=0, label=7)
    assert not torch.equal(a, b)  # same z, other class
    assert torch.equal(a, G.sample(4, seed=0, label=1))
    for k in range(3):  # every G_k and D_k takes the label
        assert run.load_checkpoint().meta["networks"][f"G{k}"]["kwargs"]["num_classes"] == 10
        assert run.load_checkpoint().meta["networks"][f"D{k}"]["kwargs"]["num_classes"] == 10
    out = tmp_path / "x.npy"
    assert main(["sample", str(run.path), "--n", "3", "--label", "4", "--out", str(out)]) == 0
    assert np.load(out).shape == (3, 1, 28, 28)
    with pytest.raises(RunError):
        G.sample(2, label=10)
    assert main(["sample", str(run.path), "--n", "3", "--label", "12", "--out", str(out)]) != 0
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_unconditional_sample_cli_writes_a_grid(tmp_path):
    run = api.train(config(), tmp_path / "run", steps=3)
    out = tmp_path / "x.png"
    assert main(["sample", str(run.path), "--n", "16", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    with pytest.raises(RunError):
        load_generator(run.path).sample(2, label=1)  # not a conditional run


@pytest.mark.parametrize(
    "over, needle",
    [
        ({"model.z_dim": 32}, "model.z_dim"),  # 2 x 16 for the finer levels leaves nothing
        ({"options.levels": 1}, "options.levels"),
        ({"options.levels": 4}, "options.levels"),  # 28 does not halve three times
        ({"options.schedule": "backwards"}, "options.schedule"),
        ({"data.image_size": 8}, "data.image_size"),
        ({"data.name": "ring"}, "image data"),
        ({"tricks.unrolled_steps": 2}, "unrolled_steps"),
        ({"tricks.pack": 2}, "tricks.pack"),
    ],
)
def test_bad_settings_are_one_line_config_errors(tmp_path, over, needle):
    with pytest.raises(ConfigError) as err:
        trainer(tmp_path, **over)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_diffaugment_applies_to_every_level(tmp_path):
    tr = trainer(tmp_path, **{"tricks.diffaugment": "translation,cutout"})
    tr.train_step()  # (N, 2C, s, s) pairs: l_k and l_k + h_k are shifted and cut together
    assert all(torch.isfinite(p).all() for net in tr.nets.values() for p in net.parameters())
