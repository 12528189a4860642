"""BiGAN and ALI on images (Donahue et al. 2016, Sec. 4; Dumoulin et al. 2016, Appendix A):
the contract checks of test_contract.py on the image path, which the suite itself does not
reach (it runs each variant's first preset: the vector ones), plus what is new here: the
joint conv discriminator D(x, z), the encoder_features export and the preview picture.

Tiny: the embedded 8x8 digits at 16x16, widths 8, a few steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from gankit import api
from gankit.applying import apply
from gankit.data import load_dataset
from gankit.errors import ConfigError
from gankit.nn.modes import evaluating
from gankit.presets import preset_config
from gankit.runs import RunDir, load_model, load_network, run_exports
from gankit.training.loop import Trainer
from tests.variants.test_contract import STEPS, TINY, _assert_bitwise, _checkpoint_tensors

PRESETS = {"bigan": "bigan-fashion", "ali": "ali-fashion"}
SMALL = {**TINY, "data.name": "digits", "data.image_size": 16, "model.z_dim": 8}
Z_DIM, SIDE = 8, 16
# conv_e at 16x16 with width 8: blocks of 8 (8x8) and 16 (4x4) channels, each pooled to 4x4
FEATURE_DIM = (8 + 16) * 16 + Z_DIM


def tiny(variant: str, **kw):
    return preset_config(PRESETS[variant], {**SMALL, **kw})


@pytest.fixture(scope="module", params=sorted(PRESETS))
def runs(request, tmp_path_factory):
    """A straight run of STEPS steps and one stopped half way, then resumed."""
    variant = request.param
    base = tmp_path_factory.mktemp(f"images-{variant}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        api.train(tiny(variant), base / "full", steps=STEPS)
        cfg = tiny(variant)
        Trainer(cfg, RunDir.create(base / "half", cfg)).train(STEPS // 2)
        api.resume(base / "half")
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
    return variant, base


def _digits(n: int) -> torch.Tensor:
    return load_dataset("digits", split="test", image_size=SIDE, channels=1).x[:n]


def test_the_image_networks_are_dcgan_g_conv_e_and_the_joint_d(tmp_path):
    for variant, gaussian in (("bigan", False), ("ali", True)):
        cfg = tiny(variant)
        tr = Trainer(cfg, RunDir.create(tmp_path / variant, cfg))
        assert list(tr.nets) == ["G", "E", "D"]  # built in this order
        specs = {k: (v.spec["name"], v.spec["kwargs"]) for k, v in tr.nets.items()}
        assert specs["G"][0] == "dcgan_g" and specs["D"][0] == "conv_xz_d"
        assert specs["E"] == (
            "conv_e",
            {"z_dim": Z_DIM, "width": 8, "gaussian": gaussian, "image_size": SIDE, "channels": 1},
        )
        D = tr.nets["D"]  # ALI's discriminator: dropout 0.2 on every layer, no BatchNorm
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
        drops = [m.p for m in D.modules() if isinstance(m, torch.nn.Dropout)]
        assert len(drops) == 6 and set(drops) == {0.2}


def test_shapes_of_every_export(runs):
    variant, base = runs
    exports = run_exports(base / "full")
    assert set(exports) == {"sample", "apply", "reconstruct", "encoder_features"}
    assert exports["encoder_features"].output == {"kind": "vector", "shape": [FEATURE_DIM]}
    x, n = _digits(5), 5
    want = {
        "apply": (n, Z_DIM),
        "reconstruct": (n, 1, SIDE, SIDE),
        "encoder_features": (n, FEATURE_DIM),
    }
    for name, shape in want.items():
        assert tuple(load_model(base / "full", name)(x).shape) == shape, name
    images = api.load_generator(base / "full").sample(n, seed=0)
    assert tuple(images.shape) == (n, 1, SIDE, SIDE) and images.abs().max() <= 1


def test_encoder_features_are_the_pooled_conv_blocks_then_the_code(runs):
    variant, base = runs
    x = _digits(4)
    features = load_model(base / "full", "encoder_features")(x)
    codes = load_model(base / "full", "apply")(x)  # z = E(x); ALI: the posterior mean
    E = load_network(base / "full", "E")  # by hand from the run's E (its EMA copy, as exports)
    with torch.no_grad(), evaluating(E):
        blocks, h = [], x
        for layer in E.features:
            h = layer(h)
            if isinstance(layer, torch.nn.LeakyReLU):
                blocks.append(h.clone())
    assert [tuple(b.shape[1:]) for b in blocks] == [(8, 8, 8), (16, 4, 4)]
    want = torch.cat([F.max_pool2d(blocks[0], 2).flatten(1), blocks[1].flatten(1), codes], 1)
    torch.testing.assert_close(features, want)


def test_resume_equals_uninterrupted(runs):
    variant, base = runs
    full, step_f = _checkpoint_tensors(base / "full")
    half, step_h = _checkpoint_tensors(base / "half")
    assert step_f == step_h == STEPS
    _assert_bitwise(full, half, f"{variant} on images: resumed at {STEPS // 2} vs straight")


def test_apply_and_reconstruct_from_a_copy_of_the_run_dir(runs, tmp_path):
    import shutil

    variant, base = runs
    run = tmp_path / "copy"
    shutil.copytree(base / "full", run)
    x = _digits(6)
    arr = tmp_path / "x.npy"
    np.save(arr, ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy())
    apply(run, arr, tmp_path / "codes.npy")
    codes = np.load(tmp_path / "codes.npy")
    assert codes.shape == (6, Z_DIM) and codes.dtype == np.float32
    apply(run, arr, tmp_path / "recon.npy", export="reconstruct")
    recon = np.load(tmp_path / "recon.npy")
    assert recon.shape == (6, 1, SIDE, SIDE) and recon.dtype == np.uint8
    # the codes are E's (ALI: the posterior mean), and the reconstruction is G of them
    x_read = torch.from_numpy(np.load(arr)).float() / 127.5 - 1
    want = load_model(base / "full", "apply")(x_read)
    np.testing.assert_allclose(codes, want.numpy(), rtol=1e-5, atol=1e-5)
    G = api.load_generator(base / "full")
    with torch.no_grad():
        again = ((G.generate(want) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    assert np.abs(recon.astype(int) - again.numpy().astype(int)).max() <= 1


def test_the_preview_shows_samples_then_real_rows_above_their_reconstructions(runs):
    variant, base = runs
    grids = sorted((base / "full" / "samples").glob("step_*.png"))
    assert grids
    w, h = Image.open(grids[-1]).size
    # 8 columns; n_fixed 16 samples (2 rows) + 2 x (real row, reconstruction row): 6 rows
    assert abs(w / h - 8 / 6) < 0.05, (w, h)


def test_joint_d_takes_spectral_norm_packing_and_minibatch_discrimination(tmp_path):
    cfg = tiny(
        "bigan", **{"tricks.spectral_norm": True, "tricks.pack": 2, "tricks.minibatch_disc": True}
    )
    tr = Trainer(cfg, RunDir.create(tmp_path / "run", cfg))
    D = tr.nets["D"]
    assert D.spec["kwargs"]["spectral_norm"] and D.spec["kwargs"]["pack"] == 2
    assert any("parametrizations" in k for k in D.state_dict())
    x, z = torch.zeros(4, 1, SIDE, SIDE), torch.zeros(4, Z_DIM)
    assert D(x, z).shape == (2,)  # one logit per pack of 2 pairs
    tr.train_step()


def test_tricks_the_image_path_cannot_take_are_one_clear_error(tmp_path):
    cfg = tiny("ali", **{"tricks.vbn": 8})
    with pytest.raises(ConfigError, match="tricks.vbn is not supported by train.variant=ali"):
        Trainer(cfg, RunDir.create(tmp_path / "run", cfg))
    cfg = tiny("bigan", **{"data.image_size": 12})
    with pytest.raises(ConfigError, match="cannot make 12x12 images"):
        Trainer(cfg, RunDir.create(tmp_path / "run2", cfg))
