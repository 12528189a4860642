"""FIGAN: the PCA, the frozen classifier and its conventions, the condition reaching G and D,
and `gankit classifier train` on a labelled folder. Tiny runs on the 8x8 digits at 16 px."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gankit.applications.figan import read_classifier_file, train_labelled_classifier
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.networks.figan_features import fit_pca
from gankit.presets import preset_config
from gankit.runs import RunDir
from gankit.training.loop import Trainer

TINY = {
    "data.name": "digits",
    "data.image_size": 16,
    "model.z_dim": 8,
    "model.g_channels": 8,
    "model.d_channels": 8,
    "train.batch_size": 16,
    "train.steps": 3,
    "log.progress": False,
    "log.sample_every": 0,
    "log.checkpoint_every": 100,
    "log.n_fixed": 16,
    "diagnose.enabled": False,
    "options.k": 4,
}


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    """One cache for the module: the digits domain classifier trains once (seconds)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def trainer(tmp_path, **kw) -> Trainer:
    cfg = preset_config("figan-fashion", {**TINY, **kw})
    return Trainer(cfg, RunDir.create(tmp_path / "run", cfg))


# --- the PCA ----------------------------------------------------------------------------------
def test_pca_round_trip_and_whitening():
    gen = torch.Generator().manual_seed(0)
    basis = torch.randn(3, 10, generator=gen)
    x = torch.randn(500, 3, generator=gen) * torch.tensor([5.0, 2.0, 0.5]) @ basis + 7.0
    mean, comp, std = fit_pca(x, 3)
    assert torch.allclose(comp @ comp.T, torch.eye(3), atol=1e-5)  # orthonormal directions
    f = (x - mean) @ comp.T / std
    assert torch.allclose(f.std(0), torch.ones(3), atol=1e-4)  # whitened: unit variance
    # x lies in a 3-d affine subspace: 3 components reconstruct it exactly
    assert torch.allclose(mean + (f * std) @ comp, x, atol=1e-3)
    assert (std[:-1] >= std[1:]).all()  # ordered by variance
    # fewer components: the projection of the projection is itself (f -> features -> f)
    mean2, comp2, std2 = fit_pca(x, 2)
    f2 = torch.randn(7, 2, generator=gen)
    back = (mean2 + (f2 * std2) @ comp2 - mean2) @ comp2.T / std2
    assert torch.allclose(back, f2, atol=1e-4)


# --- the frozen classifier and the condition ----------------------------------------------------
def test_classifier_is_frozen_and_the_feature_map_round_trips(tmp_path):
    tr = trainer(tmp_path)
    C = tr.nets["C"]
    assert not any(p.requires_grad for p in C.parameters())
    assert all("C" not in p.modules for p in tr.phases)  # no phase trains the classifier
    before = {k: v.clone() for k, v in C.state_dict().items()}
    x = tr.data.x[:32]
    logits_before, f_before = C.classify(x)[0], C(x)
    # the stored f of the training images is the feature map of those images
    assert torch.allclose(tr.data.fields["f"][:32], f_before, atol=1e-4)
    # the reduced class means separate the classes: each class mean is nearest its own class
    f_all, y = tr.data.fields["f"], tr.data.y
    nearest = torch.cdist(f_all, C.class_means).argmin(1)
    assert (nearest == y).float().mean() > 0.7
    for _ in range(3):
        tr.train_step()
    after = C.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the classifier changed"
    assert torch.equal(C.classify(x)[0], logits_before)
    # expand then reduce is the identity on f
    assert torch.allclose(C.reduce(C.expand(f_before)), f_before, atol=1e-3)


@pytest.mark.parametrize("mode", ["projection", "concat"])
def test_the_condition_reaches_g_and_d(tmp_path, mode):
    tr = trainer(tmp_path, **{"options.d_condition": mode})
    for _ in range(2):
        tr.train_step()
    G, D = tr.nets["G"].eval(), tr.nets["D"].eval()
    f = tr.data.fields["f"]
    z = torch.randn(1, 8).repeat(4, 1)
    with torch.no_grad():
        a, b = G(z, c=f[:4]), G(z, c=f[4:8])
        # same z, different f -> different images (relative: an untrained G's outputs are small)
        assert (a - b).abs().mean() > 0.05 * a.abs().mean()
        assert torch.equal(G(z, c=f[:4]), a)  # and the same f -> the same image
        x = tr.data.x[:4]
        assert (D(x, f[:4]) - D(x, f[4:8])).abs().max() > 1e-6  # D judges the pair


def test_matching_aware_d_scores_the_real_image_with_the_wrong_f_as_fake(tmp_path):
    """GAN-CLS (Reed et al. 2016, Alg. 1) with f for the text: L_D = log s_r + (log(1 - s_w) +
    log(1 - s_f)) / 2, s_w = D(x, f of the next item)."""
    import torch.nn.functional as F

    from gankit.variants.base import StepContext

    tr = trainer(tmp_path, **{"options.matching_aware": True})
    tr.train_step()  # the option trains
    D, G = tr.nets["D"], tr.nets["G"]
    phase = next(p for p in tr.phases if p.name == "D")
    x, f = tr.data.x[:8], tr.data.fields["f"][:8]

    def ctx(seed):
        gen = torch.Generator().manual_seed(seed)
        return StepContext(
            tr.nets, x, tr.data.y[:8], 8, 0, lambda n: torch.randn(n, 8, generator=gen),
            rng=torch.Generator().manual_seed(seed), batch={"x": x, "f": f},
        )  # fmt: skip

    c = ctx(1)
    terms = phase.loss(c)
    assert "D(x, wrong f)" in c.logs
    # the same draws again, by hand: z and the fake's f from the same streams
    gen, rng = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    z = torch.randn(8, 8, generator=gen)
    fake_f = tr.variant.bank[torch.randint(len(tr.variant.bank), (8,), generator=rng)]
    with torch.no_grad():
        s_r, s_f = D(x, f), D(G(z, c=fake_f), fake_f)
        s_w = D(x, f.roll(1, 0))
    want = F.softplus(-s_r).mean() + F.softplus(torch.cat([s_f, s_w])).mean()
    assert torch.allclose(terms["d_adv"].detach(), want, atol=1e-5)
    off = trainer(tmp_path / "off", **{"options.matching_aware": False})
    c = ctx(1)
    next(p for p in off.phases if p.name == "D").loss(c)
    assert "D(x, wrong f)" not in c.logs  # off: the plain conditional D
    from gankit.variants.figan import FIGANOptions

    assert not FIGANOptions().matching_aware  # a config.json without the option: as before


def test_bad_options_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="options.k=0"):
        preset_config("figan-fashion", {"options.k": 0})
    with pytest.raises(ConfigError, match="d_condition"):
        preset_config("figan-fashion", {"options.d_condition": "sum"})
    with pytest.raises(ConfigError, match="exceeds the classifier's"):
        trainer(tmp_path / "a", **{"options.k": 4096})
    with pytest.raises(ConfigError, match="neither 'domain' nor a file"):
        trainer(tmp_path / "b", **{"options.classifier": str(tmp_path / "missing.pt")})


# --- TorchScript classifiers ------------------------------------------------------------------
class PairNet(nn.Module):
    """A user's classifier returning (logits, features), as the convention asks."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(256, 12), nn.Tanh())
        self.head = nn.Linear(12, 10)

    def forward(self, x):
        h = self.body(x)
        return self.head(h), h


class LogitsNet(PairNet):
    """One returning the logits alone: options.feature_layer must name its features."""

    def forward(self, x):
        return self.head(self.body(x))


def _script(net: nn.Module, path) -> str:
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(net), str(path))
    return str(path)


def test_torchscript_classifier_conventions(tmp_path):
    ok = _script(PairNet(), tmp_path / "pair.pt")
    tr = trainer(tmp_path / "a", **{"options.classifier": ok})
    assert tr.nets["C"].feature_dim == 12 and tr.data.fields["f"].shape[1] == 4
    logits_only = _script(LogitsNet(), tmp_path / "logits.pt")
    with pytest.raises(DataError) as err:
        trainer(tmp_path / "b", **{"options.classifier": logits_only})
    assert "does not return (logits, features)" in str(err.value)
    assert "\n" not in str(err.value)
    tr = trainer(
        tmp_path / "c", **{"options.classifier": logits_only, "options.feature_layer": "body"}
    )
    assert tr.nets["C"].feature_dim == 12
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(DataError, match="is not a TorchScript file"):
        trainer(tmp_path / "d", **{"options.classifier": str(junk)})


# --- a classifier for a user's labelled folder ---------------------------------------------------
def _folder(root, per_class: int = 20):
    digits = load_dataset("digits")
    for c in (1, 7):
        (root / f"class{c}").mkdir(parents=True)
        imgs = digits.x[digits.y == c][:per_class]
        for i, im in enumerate(imgs):
            arr = ((im[0].numpy() + 1) * 127.5).astype(np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="PNG")
            (root / f"class{c}" / f"{i}.png").write_bytes(buf.getvalue())


def test_classifier_train_on_a_folder_then_figan_explains_it(tmp_path):
    _folder(tmp_path / "imgs")
    out = tmp_path / "clf.safetensors"
    r = train_labelled_classifier(
        "folder", str(out), root=str(tmp_path / "imgs"), epochs=15, width=8, progress=False
    )
    assert out.is_file() and r["classes"] == ["class1", "class7"] and r["n_val"] == 4
    assert r["val_accuracy"] >= 0.75  # ones and sevens are easy
    net, meta = read_classifier_file(out)
    assert meta["arch"]["num_classes"] == 2 and meta["class_names"] == ["class1", "class7"]
    tr = trainer(
        tmp_path / "run",
        **{
            "data.name": "folder",
            "data.root": str(tmp_path / "imgs"),
            "data.image_size": 16,
            "options.classifier": str(out),
            "options.k": 2,
        },
    )
    assert tr.nets["C"].class_names == ["class1", "class7"]
    tr.train_step()
    with pytest.raises(DataError, match="no labelled images"):
        train_labelled_classifier("folder", str(out), root=str(tmp_path / "imgs" / "class1"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(DataError, match="not a classifier written by"):
        read_classifier_file(bad)
