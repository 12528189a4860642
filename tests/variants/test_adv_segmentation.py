"""Adversarial segmentation (Luc et al. 2016; Kohl et al. 2017): what the contract suite does
not check: the loss terms of Eq. 2-3 against hand-computed values, the three objectives,
the soft Dice loss, errors, and `gankit apply` / `gankit eval` on a segmentation run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit import api
from gankit.applying import apply
from gankit.data import load_dataset
from gankit.data.dataset import Dataset
from gankit.errors import ConfigError
from gankit.presets import preset_config
from gankit.runs import RunDir
from gankit.training.loop import Trainer
from gankit.variants import StepContext
from gankit.variants.adv_segmentation import AdversarialSegmentation, one_hot, soft_dice_loss
from tests.test_cli import run_cli

TINY = {
    "model.g_channels": 8,
    "model.d_channels": 8,
    "options.d_layers": 1,
    "data.n_samples": 32,
    "train.batch_size": 8,
    "log.progress": False,
    "log.sample_every": 2,
    "log.checkpoint_every": 2,
    "diagnose.enabled": False,
    "eval.metrics": "",
}


def config(objective="hybrid", **over):
    return preset_config("segmentation-lesions", {**TINY, "options.objective": objective, **over})


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def trainer(tmp_path, objective="hybrid", **over) -> Trainer:
    cfg = config(objective, **over)
    return Trainer(cfg, RunDir.create(tmp_path / objective, cfg))


def ctx_for(nets, x, mask) -> StepContext:
    gen = torch.Generator().manual_seed(0)
    return StepContext(
        nets, x, None, len(x), 0, lambda n: torch.zeros(n, 1), rng=gen, batch={"x": x, "mask": mask}
    )


def test_hybrid_terms_follow_luc_eq_2_and_3(tmp_path):
    tr = trainer(tmp_path, "hybrid", **{"options.adv_weight": 0.25})
    S, D = tr.nets["S"], tr.nets["D"]
    S.eval(), D.eval()  # batch statistics out of the way: the same outputs in both passes
    x, mask = tr.data.x[:4], tr.data.fields["mask"][:4]
    d_phase, s_phase = (p for p in tr.phases)
    assert (d_phase.name, s_phase.name) == ("D", "S")
    with torch.no_grad():
        logits = S(x)
        real = D(torch.cat([x, one_hot(mask, 2)], 1)).flatten()
        fake = D(torch.cat([x, logits.softmax(1)], 1)).flatten()
    d = d_phase.loss(ctx_for(tr.nets, x, mask))
    bce = F.binary_cross_entropy_with_logits
    want_d = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))  # Eq. 2
    assert d["d_adv"].item() == pytest.approx(want_d.item(), rel=1e-5)
    s = s_phase.loss(ctx_for(tr.nets, x, mask))
    assert s["s_sup"].item() == pytest.approx(F.cross_entropy(logits, mask[:, 0]).item(), 1e-5)
    want_adv = 0.25 * bce(fake, torch.ones_like(fake))  # Eq. 3, non-saturating
    assert s["g_adv"].item() == pytest.approx(want_adv.item(), rel=1e-5)


def test_objectives_build_their_networks_and_terms(tmp_path):
    ce = trainer(tmp_path, "ce")
    assert set(ce.nets) == {"S"} and [p.name for p in ce.phases] == ["S"]
    adv = trainer(tmp_path, "adversarial")
    x, mask = adv.data.x[:4], adv.data.fields["mask"][:4]
    terms = adv.phases[1].loss(ctx_for(adv.nets, x, mask))
    assert set(terms) == {"g_adv"}  # no supervised term: S learns only through D
    dice = trainer(tmp_path, "hybrid", **{"options.supervised": "dice"})
    terms = dice.phases[1].loss(ctx_for(dice.nets, x, mask))
    probs = dice.nets["S"](x).softmax(1)
    assert terms["s_sup"].item() == pytest.approx(
        soft_dice_loss(probs, one_hot(mask, 2)).item(), rel=1e-4
    )


def test_soft_dice_loss_hand_case():
    target = one_hot(torch.tensor([[[[0, 1], [1, 1]]]]), 2)
    probs = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]], [[0.0, 0.5], [1.0, 1.0]]]])
    # foreground: sum p g = 0.5 + 1 + 1 = 2.5, sum p^2 = 0.25 + 2, sum g^2 = 3
    assert soft_dice_loss(probs, target).item() == pytest.approx(1 - 5 / 5.25)
    assert soft_dice_loss(target, target).item() == pytest.approx(0.0)


def test_bad_data_and_options_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="field mask"):
        plain = Dataset(x=torch.zeros(2, 1, 16, 16), y=None, kind="image", name="plain")
        AdversarialSegmentation().build(config(), plain)
    for key, value in (("options.objective", "gan"), ("options.supervised", "l1")):
        with pytest.raises(ConfigError) as err:
            config(**{key: value})
        assert "\n" not in str(err.value)


def test_training_lowers_the_pixel_error(tmp_path):
    """80 CE steps on 32 lesion images: the pixel CE falls well below its start."""
    cfg = config("ce", **{"train.steps": 80, "log.stats_every": 10})
    run = api.train(cfg, tmp_path / "learn")
    ce = [r["ce"] for r in run.read_stats()]
    assert ce[-1] < 0.5 * ce[0], ce


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("seg") / "run"
    api.train(config("hybrid", **{"train.steps": 4}), path)
    torch.set_num_threads(before)
    return path


def test_apply_writes_masks(tiny_run, tmp_path):
    test = load_dataset("lesions", split="test")
    src = tmp_path / "images"
    src.mkdir()
    pixels = ((test.x[:3, 0] + 1) * 127.5).round().to(torch.uint8).numpy()
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(src / f"im{i}.png")
    apply(tiny_run, src, tmp_path / "masks")
    png = np.asarray(Image.open(tmp_path / "masks" / "im0.png"))
    assert png.shape == (32, 32) and set(np.unique(png)) <= {0, 255}
    apply(tiny_run, src, tmp_path / "masks.npy")
    arr = np.load(tmp_path / "masks.npy")
    assert arr.shape == (3, 1, 32, 32) and arr.dtype == np.uint8 and set(np.unique(arr)) <= {0, 1}
    assert np.array_equal(arr[0, 0] * 255, png)  # the same prediction in both forms


def test_eval_reports_segmentation_scores(tiny_run, capsys):
    code, out, err = run_cli(capsys, "eval", tiny_run, "--n", "50")
    assert code == 0, err
    res = json.loads(out)
    assert res["reference"] == "lesions:test" and res["n"] == 50
    for k in ("dice", "sensitivity", "specificity", "lesion_detection"):
        assert 0.0 <= res[k] <= 1.0


def test_multiclass_folder_run_writes_class_indices(tmp_path):
    root = tmp_path / "data"
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(
            root / "images" / f"{i}.png"
        )
        m = np.zeros((16, 16), np.uint8)
        m[:4, :4], m[8:, 8:] = 1, 2
        Image.fromarray(m).save(root / "masks" / f"{i}.png")
    cfg = preset_config(
        "segmentation-folder",
        {
            **TINY,
            "data.root": str(root),
            "data.image_size": 16,
            "train.steps": 2,
            "train.batch_size": 4,
        },
    )
    run = api.train(cfg, tmp_path / "run").path
    apply(run, root / "images", tmp_path / "out")
    png = np.asarray(Image.open(tmp_path / "out" / "0.png"))
    assert set(np.unique(png)) <= {0, 1, 2}  # class indices, not 0/255
