"""The data applications: balanced folders (gankit balance), the classifier scores, the
augmentation, gankit cas on a run, and D fine-tuning (gankit.applications.transfer)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, confusion_matrix

from gankit.applications.balance import folder_name
from gankit.applications.classify import augment, class_scores, mean_interval, per_class_draw
from gankit.cli import main
from gankit.data import load_dataset


def test_class_scores_match_sklearn():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, 200)
    p = np.where(rng.random(200) < 0.7, t, rng.integers(0, 4, 200))
    s = class_scores(p, t, 4)
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(t, p))
    cm = confusion_matrix(t, p, labels=range(4))
    k = 2
    tn = cm.sum() - cm[k].sum() - cm[:, k].sum() + cm[k, k]
    assert s["specificity"][k] == pytest.approx(tn / (cm.sum() - cm[k].sum()))
    assert s["sensitivity"][k] == pytest.approx(cm[k, k] / cm[k].sum())


def test_augment_shifts_and_flips_only():
    x = torch.rand(64, 1, 6, 6) * 2 - 1
    out = augment(x, torch.Generator().manual_seed(0), shift=1)
    # each output is x shifted by <= 1 px (background -1 filled in), possibly mirrored
    for a, b in zip(x, out):
        pad = torch.nn.functional.pad(a, (1,) * 4, value=-1.0)
        options = [pad[:, i : i + 6, j : j + 6] for i in range(3) for j in range(3)]
        assert any(torch.equal(b, o) or torch.equal(b, o.flip(-1)) for o in options)
    assert not torch.equal(out, x)


def test_mean_interval_and_draws():
    mean, half = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 * 1.0 / 3**0.5, rel=1e-5)
    y = torch.arange(10).repeat(5)
    idx = per_class_draw(y, 3, seed=1, classes=10)
    assert torch.bincount(y[idx]).tolist() == [3] * 10
    assert torch.equal(idx, per_class_draw(y, 3, seed=1, classes=10))


def test_balance_tops_up_with_marked_synthetic_images(cgan_run, tmp_path):
    out = tmp_path / "balanced"
    assert main(["balance", str(cgan_run), "--data", "digits", "--out", str(out),
                 "--per-class", "160"]) == 0  # fmt: skip
    counts = np.bincount(load_dataset("digits").y.numpy(), minlength=10)
    summary = json.loads((out / "balance.json").read_text())
    for k, entry in enumerate(summary["classes"]):
        folder = out / entry["folder"]
        assert entry["folder"] == folder_name(k, str(k), 1)
        real = list(folder.glob("real_*.png"))
        fake = list(folder.glob("synthetic_*.png"))
        assert len(real) == counts[k] and len(fake) == max(0, 160 - counts[k])
    ds = load_dataset("folder", root=out, channels=1)  # readable as a labelled folder
    assert len(ds) == sum(max(160, c) for c in counts) and ds.num_classes == 10
    # a second run into the same folder is refused
    assert main(["balance", str(cgan_run), "--data", "digits", "--out", str(out)]) == 2


def test_balance_and_cas_refuse_mismatches(cgan_run, tmp_path, capsys):
    three = tmp_path / "three.npz"  # 3 classes: the digits run makes 10
    np.savez(three, x=np.zeros((6, 16, 16), np.uint8), y=np.arange(6) % 3)
    assert main(["balance", str(cgan_run), "--data", "array", "--data-root", str(three),
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert main(["cas", str(cgan_run), "--reference", "digits:train"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("gankit: error:") for line in err)


def test_cas_command_prints_both_accuracies(cgan_run, capsys):
    code = main(["cas", str(cgan_run), "--per-class", "5", "--epochs", "1", "--width", "4"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["reference"] == "digits:test"
    assert 0 <= report["cas"] <= 1 and 0 <= report["real_accuracy"] <= 1
    assert report["per_class"] == 5
