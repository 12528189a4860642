"""`gankit probe`: the linear probe of Radford et al. 2015, Sec. 5.1, on tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import DataError, RunError
from gankit.probe import draw_labelled, linear_probe, probe, run_extractor
from gankit.runs import RunDir, load_model, load_network, run_exports, run_networks
from tests.conftest import TINY_DCGAN, TINY_TOY
from tests.test_cli import assert_one_line_error, run_cli, sets

D_WIDTH = TINY_DCGAN["model.d_channels"]  # 8: layers of 8 and 16 channels at 16x16


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    dcgan = {**TINY_DCGAN, "data.image_size": 16}
    for preset, sets_, name in (
        ("dcgan-digits", dcgan, "dcgan"),
        ("bigan-ring", TINY_TOY, "bigan"),
        ("toy-ring", TINY_TOY, "toy"),
        ("ali-fashion", {**dcgan, "data.name": "digits"}, "ali-images"),
    ):
        args = ["train", preset, "--out", root / name, "--steps", 4, *sets(sets_)]
        assert main([str(a) for a in args]) == 0
    return root


def _disc_key(run) -> str:
    (key,) = [k for k, name in run_networks(run).items() if name == "dcgan_d"]
    return key


def _digits16(n: int) -> torch.Tensor:
    return load_dataset("digits", split="test", image_size=16, channels=1).x[:n]


def test_features_are_each_conv_layer_max_pooled_to_4x4(runs):
    run = runs / "dcgan"
    e = run_exports(run)["features"]
    assert e.kind == "map" and e.output == {"kind": "vector", "shape": [(8 + 16) * 16]}
    x = _digits16(5)
    f = load_model(run, "features")(x)
    assert f.shape == (5, (D_WIDTH + 2 * D_WIDTH) * 4 * 4)
    # by hand: block outputs (after LeakyReLU) at 8x8 and 4x4, each max-pooled to 4x4
    D = load_network(run, _disc_key(run))
    with torch.no_grad():
        blocks, h = [], x
        for layer in D.features:
            h = layer(h)
            if isinstance(layer, torch.nn.LeakyReLU):
                blocks.append(h.clone())
    assert [tuple(b.shape[1:]) for b in blocks] == [(8, 8, 8), (16, 4, 4)]
    want = torch.cat([F.max_pool2d(blocks[0], 2).flatten(1), blocks[1].flatten(1)], 1)
    assert torch.allclose(f, want)


def test_the_random_baseline_is_the_same_network_with_seeded_fresh_weights(runs):
    run = runs / "dcgan"
    trained = load_network(run, _disc_key(run))
    a = load_network(run, _disc_key(run), init_seed=3)
    b = load_network(run, _disc_key(run), init_seed=3)
    c = load_network(run, _disc_key(run), init_seed=4)
    sa, sb, sc, st = a.state_dict(), b.state_dict(), c.state_dict(), trained.state_dict()
    assert sa.keys() == st.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    conv = next(k for k in sa if k.endswith("weight") and sa[k].ndim == 4)
    assert not torch.equal(sa[conv], sc[conv]) and not torch.equal(sa[conv], st[conv])
    rng_before = torch.random.get_rng_state()
    load_model(run, "features", init_seed=3)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the caller's stream is kept


def test_draws_are_seeded_balanced_and_split_for_validation():
    y = np.repeat(np.arange(4), 30)
    d1, d2 = draw_labelled(y, 10, 3, seed=7), draw_labelled(y, 10, 3, seed=7)
    assert all(np.array_equal(a, b) for x, z in zip(d1, d2) for a, b in zip(x, z))
    assert not np.array_equal(d1[0][0], draw_labelled(y, 10, 3, seed=8)[0][0])
    for fit, val in d1:
        assert np.bincount(y[fit]).tolist() == [8] * 4 and np.bincount(y[val]).tolist() == [2] * 4
        assert not set(fit) & set(val)


def test_the_protocol_is_deterministic_and_runs_every_source():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    x = torch.from_numpy(rng.normal(size=(120, 6)).astype(np.float32) + 2 * y[:, None])
    yt = np.repeat(np.arange(3), 20)
    xt = torch.from_numpy(rng.normal(size=(60, 6)).astype(np.float32) + 2 * yt[:, None])
    sources = {"pixels": lambda v: v, "noise": lambda v: torch.sin(v * 100)}
    r1 = linear_probe(sources, (x, y), (xt, yt), per_class=10, draws=4, seed=1)
    r2 = linear_probe(sources, (x, y), (xt, yt), per_class=10, draws=4, seed=1)
    for name in sources:
        assert r1[name]["accuracies"] == r2[name]["accuracies"] and len(r1[name]["C"]) == 4
        assert r1[name]["ci95"] == pytest.approx(1.96 * np.std(r1[name]["accuracies"], ddof=1))
    assert r1["pixels"]["mean"] > 0.8 > r1["noise"]["mean"]  # separable vs scrambled


def test_cli_probe_prints_json_and_a_table_with_both_baselines(runs, capsys):
    args = ("probe", runs / "dcgan", "--per-class", 5, "--draws", 2, "--seed", 1)
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    report = json.loads(out.splitlines()[0])
    assert set(report["results"]) == {"trained", "random init", "raw pixels"}
    assert report["results"]["raw pixels"]["dim"] == 16 * 16
    assert report["results"]["trained"]["dim"] == report["results"]["random init"]["dim"] == 384
    assert report["data"] == "digits" and report["test_n"] == len(
        load_dataset("digits", split="test")
    )
    assert "raw pixels" in out.splitlines()[-1] and "draw 2/2" in err  # progress on stderr
    code, again, err = run_cli(capsys, *args, "--quiet")
    assert code == 0 and not err
    repeat = json.loads(again.splitlines()[0])["results"]
    for name, r in report["results"].items():  # seeded: the same draws, C and accuracies
        assert (repeat[name]["accuracies"], repeat[name]["C"]) == (r["accuracies"], r["C"])


def test_an_older_run_without_the_export_uses_its_discriminator(runs, tmp_path):
    run = tmp_path / "old"
    import shutil

    shutil.copytree(runs / "dcgan", run)
    rd = RunDir.open(run)
    ckpt = rd.load_checkpoint()
    meta = dict(ckpt.meta)
    meta["exports"] = {k: v for k, v in meta["exports"].items() if k != "features"}
    save_file(ckpt.tensors, ckpt.path, metadata={"gankit": json.dumps(meta)})
    assert "features" not in run_exports(run)
    ext = run_extractor(run, "features")
    x = _digits16(3)
    assert torch.equal(ext.trained(x), load_model(runs / "dcgan", "features")(x))


def test_the_encoder_of_a_bigan_run(runs):
    ext = run_extractor(runs / "bigan", "encoder", seed=0)
    assert ext.item_shape == [2]
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(200, 2)).astype(np.float32))
    y = (x[:, 0] > 0).long().numpy()
    res = linear_probe(
        {"trained": ext.trained, "random init": ext.random},
        (x[:100], y[:100]),
        (x[100:], y[100:]),
        per_class=10,
        draws=2,
    )
    assert res["trained"]["dim"] == res["random init"]["dim"] == 2
    assert not torch.equal(ext.trained(x[:5]), ext.random(x[:5]))


def _check_cli_report(capsys, run, source: str, model: str, dim: int) -> None:
    """`gankit probe RUN --source SOURCE`: one JSON line naming the export, then the table."""
    code, out, err = run_cli(capsys, "probe", run, "--source", source, "--per-class", 3,
                             "--draws", 2, "--quiet")  # fmt: skip
    assert code == 0, err
    report = json.loads(out.splitlines()[0])
    assert report["model"] == model and report["source"] == source
    assert report["results"]["trained"]["dim"] == report["results"]["random init"]["dim"] == dim
    assert model in out.splitlines()[1]  # the table names it too


def test_an_image_encoder_is_probed_through_its_pooled_features(runs, capsys):
    run = runs / "ali-images"
    ext = run_extractor(run, "encoder", seed=0)
    assert ext.what == "export encoder_features" and ext.item_shape == [1, 16, 16]
    x = _digits16(4)
    f = ext.trained(x)
    # conv_e's blocks (8 and 16 channels) pooled to 4x4, then the z_dim-long code
    assert f.shape == (4, (8 + 16) * 16 + 8)
    assert torch.equal(f[:, -8:], load_model(run, "apply")(x))  # the code is mu(x)
    assert not torch.equal(f, ext.random(x))  # the baseline: same export, random weights
    _check_cli_report(capsys, run, "encoder", "export encoder_features", dim=392)
    with pytest.raises(DataError, match="more than the training split has of class"):
        probe(run, source="encoder", per_class=500)
    with pytest.raises(RunError, match="no encoder"):
        probe(runs / "dcgan", source="encoder")


def test_source_codes_reads_the_code_alone_where_pooled_features_exist(runs, capsys):
    run = runs / "ali-images"
    ext = run_extractor(run, "codes", seed=0)
    assert ext.what == "export apply" and ext.item_shape == [1, 16, 16]
    x = _digits16(4)
    assert torch.equal(ext.trained(x), load_model(run, "apply")(x))  # mu(x), 8 numbers
    assert torch.equal(ext.random(x), load_model(run, "apply", init_seed=0)(x))
    assert not torch.equal(ext.trained(x), ext.random(x))
    _check_cli_report(capsys, run, "codes", "export apply", dim=8)
    with pytest.raises(RunError, match="no encoder"):
        probe(runs / "dcgan", source="codes")


@pytest.mark.parametrize(
    "run, extra, needles",
    [
        ("toy", [], ["no discriminator features", "--source encoder"]),
        ("dcgan", ["--source", "encoder"], ["no encoder"]),
        ("dcgan", ["--per-class", 1000], ["--per-class 1000 is more than", "class"]),
        ("dcgan", ["--per-class", 1], ["at least 2"]),
        ("dcgan", ["--data", "nope"], ["unknown dataset 'nope'"]),
        ("dcgan", ["--data", "ring"], ["no class labels"]),
        ("ali-images", ["--source", "encoder", "--per-class", 500], ["--per-class 500 is more"]),
        ("ali-images", [], ["no discriminator features", "--source encoder"]),
    ],
)
def test_bad_input_is_one_line(runs, capsys, run, extra, needles):
    code, _, err = run_cli(capsys, "probe", runs / run, *extra)
    assert_one_line_error(code, err, *needles)
