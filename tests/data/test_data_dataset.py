import json

import pytest
import torch

from gankit.data import DATASETS, Dataset, load_dataset
from gankit.errors import ConfigError


def _tiny(**overrides):
    fields = dict(
        x=torch.arange(6, dtype=torch.float32).view(3, 2),
        y=torch.tensor([0, 1, 1]),
        kind="vector",
        name="tiny",
    )
    return Dataset(**{**fields, **overrides})


def test_registered_names():
    assert set(DATASETS.names()) == {
        "sine", "ring", "grid", "spiral", "digits", "mnist", "fashion-mnist", "folder", "array",
        "ring-grid", "fashion-edges", "fashion-x4", "sneaker-boot", "derain", "paired-folder",
        "unpaired-folder", "sr-folder", "lesions", "mask-folder", "medmnist", "fashion-captions",
            "digits-captions", "caption-folder",
    }  # fmt: skip


def test_properties():
    ds = _tiny()
    assert len(ds) == 3 and ds.shape == (2,) and ds.num_classes == 2
    assert _tiny(y=None).num_classes is None
    assert _tiny(class_names=["a", "b", "c"]).num_classes == 3


def test_fingerprint_is_stable_and_sensitive():
    ds = _tiny()
    # A fixed value: the key must not depend on the process, platform or Python hash seed.
    assert ds.fingerprint() == "6cd5ed57bee1c4c5ca2bb6874371868cf51dd226381bc760cf74a5d3a643b90b"
    assert ds.fingerprint() == _tiny().fingerprint()
    changed = ds.x.clone()
    changed[2, 1] += 1
    assert _tiny(x=changed).fingerprint() != ds.fingerprint()
    assert _tiny(y=torch.tensor([0, 1, 0])).fingerprint() != ds.fingerprint()
    assert _tiny(y=None).fingerprint() != ds.fingerprint()
    assert _tiny(name="other").fingerprint() != ds.fingerprint()
    same_bytes_new_shape = _tiny(x=ds.x.view(2, 3), y=None)
    assert same_bytes_new_shape.fingerprint() != _tiny(y=None).fingerprint()
    assert _tiny(x=ds.x.t().contiguous().t()).fingerprint() == ds.fingerprint()


def test_invalid_construction_is_a_programming_error():
    with pytest.raises(ValueError):
        _tiny(kind="audio")
    with pytest.raises(ValueError):
        _tiny(x=torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError):
        _tiny(y=torch.tensor([0, 1]))


def test_digits():
    full = load_dataset("digits", split="all")
    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert len(full) == 1797 and full.shape == (1, 8, 8) and full.kind == "image"
    assert len(train) + len(test) == 1797 and len(train) == 1438
    assert full.x.min() == -1 and full.x.max() == 1
    assert full.num_classes == 10 and sorted(full.y.unique().tolist()) == list(range(10))
    assert torch.equal(train.x, load_dataset("digits", seed=5).x)  # split ignores the seed
    assert load_dataset("digits", image_size=16, channels=3).shape == (3, 16, 16)
    json.dumps(full.info)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "valid"},
        {"image_size": 0},
        {"image_size": 2.5},
        {"channels": 2},
        {"n_samples": 0},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        load_dataset("ring", **kwargs)


def test_unknown_dataset_suggests_a_name():
    with pytest.raises(ConfigError, match="fashion-mnist"):
        load_dataset("fashion_mnist")
