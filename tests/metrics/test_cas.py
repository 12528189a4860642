"""Classification Accuracy Score: an oracle generator (real images of the asked class)
scores like real data, a generator that mislabels every class scores near zero."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.data import load_dataset
from gankit.errors import DataError
from gankit.metrics.cas import class_samples, classification_accuracy_score
from gankit.noise import NoisePrior
from gankit.runs import Generator

SMALL = {"per_class": 30, "epochs": 6, "width": 8, "batch_size": 32}


class BankGenerator(nn.Module):
    """G(z, y): a stored image of class (y + shift) % K, picked by z. shift=0 is an oracle."""

    def __init__(self, bank: list[torch.Tensor], shift: int = 0):
        super().__init__()
        self.bank, self.shift = bank, shift
        self.dummy = nn.Parameter(torch.zeros(1))  # Generator reads the device off a parameter

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k = len(self.bank)
        out = []
        for zi, yi in zip(z, y):
            images = self.bank[(int(yi) + self.shift) % k]
            out.append(images[int(zi[0].abs() * 1e4) % len(images)])
        return torch.stack(out)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train"), load_dataset("digits", split="test")


def generator(train, shift: int) -> Generator:
    # the bank is the second half of the training split: CAS's real baseline draws from all of it
    half = len(train) // 2
    bank = [train.x[half:][train.y[half:] == k] for k in range(10)]
    return Generator(BankGenerator(bank, shift), NoisePrior("normal", 4), "image", 0, 10)


def test_oracle_scores_like_real_and_mislabelled_scores_near_zero(digits):
    train, test = digits
    good = classification_accuracy_score(generator(train, 0), train, test, **SMALL)
    bad = classification_accuracy_score(generator(train, 1), train, test, **SMALL)
    assert good["real_accuracy"] > 0.8  # 30 digits per class are plenty for 8x8 digits
    assert abs(good["cas"] - good["real_accuracy"]) < 0.08
    assert bad["cas"] < 0.1  # every class learnt as its neighbour
    assert bad["real_accuracy"] == good["real_accuracy"]  # the baseline ignores G, seeded
    assert len(good["cas_per_class"]) == 10 and good["per_class"] == 30


def test_class_samples_ask_for_each_class(digits):
    train, _ = digits
    x, y = class_samples(generator(train, 0), 10, 3, seed=0)
    assert x.shape == (30, 1, 8, 8) and y.tolist() == [k for k in range(10) for _ in range(3)]


def test_wrong_reference_is_one_line(digits):
    train, test = digits
    fashion_like = load_dataset("digits", split="test", image_size=16)
    with pytest.raises(DataError, match="reference"):
        classification_accuracy_score(generator(train, 0), fashion_like, fashion_like, **SMALL)
    plain = Generator(BankGenerator([train.x]), NoisePrior("normal", 4), "image", 0, None)
    with pytest.raises(DataError, match="not class-conditional"):
        classification_accuracy_score(plain, train, test, **SMALL)
