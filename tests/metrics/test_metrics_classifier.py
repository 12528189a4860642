"""The domain classifier: training, the safetensors + JSON cache, hash checks, clear errors."""

import json

import pytest
import torch
from safetensors.torch import load_file

from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.metrics import classifier as clf


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_root_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "a"))
    assert clf.classifier_dir("digits") == tmp_path / "a" / "extractors" / "digits"
    monkeypatch.delenv("GANKIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert clf.cache_root() == tmp_path / "x" / "gankit"


def test_train_caches_weights_and_json_that_reload_to_the_same_classifier(cache):
    rng_before = torch.get_rng_state()
    info = clf.train_classifier("digits", epochs=3, progress=False)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's RNG is left alone
    folder = cache / "extractors" / "digits"
    meta = json.loads((folder / "classifier.json").read_text())
    assert meta["arch"] == {"in_channels": 1, "num_classes": 10, "width": 32, "image_size": 8}
    assert meta["content_hash"] == info.content_hash and len(info.content_hash) == 64
    assert meta["n_train"] + meta["n_test"] == 1797  # sklearn digits, split 80:20
    assert set(load_file(folder / "classifier.safetensors"))  # plain safetensors, no pickle
    net, loaded = clf.load_classifier("digits")
    test = load_dataset("digits", split="test")
    # The reloaded weights reproduce the accuracy measured right after training.
    assert clf.accuracy(net, test.x, test.y) == pytest.approx(loaded.test_accuracy, abs=1e-12)
    assert loaded.test_accuracy > 0.8
    features, logits = net(test.x[:5])
    assert features.shape == (5, 128) and logits.shape == (5, 10)


def test_digits_classifier_reaches_high_accuracy(cache):
    info = clf.train_classifier("digits", epochs=8, progress=False)
    assert info.test_accuracy >= 0.95


def test_tampered_weights_are_refused(cache):
    clf.train_classifier("digits", epochs=1, progress=False)
    path = cache / "extractors" / "digits" / "classifier.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="gankit extractor train digits --force"):
        clf.load_classifier("digits")


def test_damaged_json_is_a_clear_error(cache):
    clf.train_classifier("digits", epochs=1, progress=False)
    (cache / "extractors" / "digits" / "classifier.json").write_text("{not json")
    with pytest.raises(DataError, match="damaged"):
        clf.load_classifier("digits")


def test_classifier_of_an_older_architecture_asks_for_retraining(cache):
    clf.train_classifier("digits", epochs=1, progress=False)
    path = cache / "extractors" / "digits" / "classifier.json"
    meta = json.loads(path.read_text())
    del meta["arch_version"]  # as written before the field existed
    path.write_text(json.dumps(meta))
    with pytest.raises(clf.ExtractorNotTrained, match="older architecture.*--force"):
        clf.load_classifier("digits")


def test_missing_classifier_names_the_command(cache):
    with pytest.raises(clf.ExtractorNotTrained, match="gankit extractor train fashion-mnist"):
        clf.load_classifier("fashion-mnist")


def test_unknown_dataset_lists_the_supported_ones(cache):
    with pytest.raises(ConfigError, match="digits, mnist, fashion-mnist"):
        clf.train_classifier("ring")


def test_classifier_shapes_for_other_sizes():
    net = clf.DomainCNN(in_channels=3, num_classes=4, width=8, image_size=28).eval()
    features, logits = net(torch.zeros(2, 3, 28, 28))
    assert features.shape == (2, 32) and logits.shape == (2, 4) and net.feature_dim == 32
