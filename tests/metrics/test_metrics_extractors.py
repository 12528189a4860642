"""Feature extractors: input handling, batch-size independence, the module wrapper, and the
InceptionV3 plumbing with random weights (the real FID weights are not available offline)."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from gankit.data import from_unit_range, load_dataset, to_unit_range
from gankit.data.images import resize_square
from gankit.errors import ConfigError, DataError
from gankit.metrics import fid_from_features, kid, prdc
from gankit.metrics.classifier import train_classifier
from gankit.metrics.extractors import (
    EXTRACTORS,
    DomainExtractor,
    ModuleExtractor,
    RawExtractor,
    build_extractor,
    inception_extractor,
)
from gankit.metrics.inception import FID_WEIGHTS_NAME, InceptionV3Features, load_inception


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """A quickly trained digits classifier in a private cache for the whole module."""
    root = tmp_path_factory.mktemp("cache")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(root))
        train_classifier("digits", epochs=2, progress=False)
        yield root
    torch.set_num_threads(threads)


@pytest.fixture
def domain(digits_cache, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(digits_cache))
    return build_extractor("domain:digits")


@pytest.fixture(scope="module")
def digits_uint8():
    return from_unit_range(load_dataset("digits", split="test").x[:200])


def test_registry_names():
    assert EXTRACTORS.names() == ["domain", "inception", "module", "raw"]
    with pytest.raises(ConfigError, match="pass the module itself"):
        build_extractor("module")
    with pytest.raises(ConfigError, match="unknown extractor 'incepton'.*inception"):
        build_extractor("incepton")


def test_domain_extractor_outputs(domain, digits_uint8):
    assert isinstance(domain, DomainExtractor)
    out = domain(digits_uint8)
    assert out.features.shape == (200, 128) and out.features.dtype == torch.float32
    assert out.probs.shape == (200, 10)
    assert torch.allclose(out.probs.sum(1), torch.ones(200), atol=1e-5)
    assert domain.cache_id.startswith("domain:digits@") and len(domain.cache_id) == 30


def test_domain_extractor_equals_the_trained_network(domain, digits_uint8):
    # The extractor folds batch norms into the convolutions; the function must not change.
    from gankit.metrics.classifier import load_classifier

    net, _ = load_classifier("digits")
    with torch.no_grad():
        features, logits = net(to_unit_range(digits_uint8))
    out = domain(digits_uint8)
    assert torch.allclose(out.features, features, atol=1e-5, rtol=1e-5)
    assert torch.allclose(out.probs, torch.softmax(logits, 1), atol=1e-5)


def test_uint8_and_float_inputs_give_the_same_features(domain, digits_uint8):
    a = domain(digits_uint8).features
    b = domain(to_unit_range(digits_uint8)).features
    c = domain(digits_uint8.numpy()).features
    assert torch.equal(a, b) and torch.equal(a, c)


def test_features_and_metrics_do_not_depend_on_batch_size(domain, digits_uint8):
    real = domain(digits_uint8[:100].clone(), batch_size=100)
    small = domain(digits_uint8[100:], batch_size=7)
    large = domain(digits_uint8[100:], batch_size=100)
    assert torch.allclose(small.features, large.features, atol=1e-5, rtol=1e-5)
    assert torch.allclose(small.probs, large.probs, atol=1e-6)
    f_small = fid_from_features(real.features, small.features)
    f_large = fid_from_features(real.features, large.features)
    assert f_small == pytest.approx(f_large, rel=1e-6, abs=1e-8)
    k_small = kid(real.features, small.features, n_subsets=10, subset_size=50)
    k_large = kid(real.features, large.features, n_subsets=10, subset_size=50)
    assert k_small[0] == pytest.approx(k_large[0], rel=1e-5, abs=1e-9)
    d = torch.float64
    assert prdc(real.features, small.features, dtype=d) == prdc(
        real.features, large.features, dtype=d
    )


def test_grey_as_rgb_and_larger_images_are_converted(domain, digits_uint8):
    x = digits_uint8[:20]
    grey = domain(x).features
    rgb = domain(x.expand(-1, 3, -1, -1).contiguous()).features
    assert torch.allclose(grey, rgb, atol=1e-4)
    big = resize_square(to_unit_range(x), 16)  # e.g. the dcgan-digits preset's 16x16 output
    direct = domain(resize_square(big, 8)).features
    assert torch.equal(domain(big).features, direct)


@pytest.mark.parametrize(
    "bad, needle",
    [
        (torch.zeros(4, 64), "vector data needs --extractor raw"),
        (torch.zeros(4, 1, 8, 6), "square"),
        (torch.zeros(4, 2, 8, 8), "2 channels"),
        (torch.full((4, 1, 8, 8), 3.0), "must be in \\[-1, 1\\]"),
        (torch.zeros(4, 1, 8, 8, dtype=torch.int32), "dtype torch.int32"),
        (torch.full((4, 1, 8, 8), float("nan")), "NaN"),
    ],
)
def test_bad_inputs_are_clear_errors(domain, bad, needle):
    with pytest.raises(DataError, match=needle):
        domain(bad)


def test_raw_extractor_passes_vectors_and_flattens_pixels():
    raw = build_extractor("raw")
    assert isinstance(raw, RawExtractor) and raw.has_probs is False
    pts = torch.randn(10, 2)
    assert torch.equal(raw(pts).features, pts)
    img = torch.tensor([[[[0, 255], [255, 0]]]], dtype=torch.uint8)
    assert raw(img).features.tolist() == [[-1.0, 1.0, 1.0, -1.0]]


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 6))
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        f = self.body(x)
        return f, self.head(f)


def test_module_wrapper_features_probs_and_cache_id():
    torch.manual_seed(0)
    net = TwoHeads()
    ex = build_extractor(net)
    assert isinstance(ex, ModuleExtractor)
    out = ex(torch.rand(5, 1, 8, 8) * 2 - 1)
    assert out.features.shape == (5, 6) and out.probs.shape == (5, 3)
    same = ModuleExtractor(TwoHeads().requires_grad_(False))
    same.module.load_state_dict(net.state_dict())
    assert ModuleExtractor(same.module).cache_id == ex.cache_id  # named by its weights
    assert ModuleExtractor(TwoHeads()).cache_id != ex.cache_id
    assert ModuleExtractor(net, name="mine").cache_id == "module:mine"
    plain = ModuleExtractor(nn.Flatten())
    assert plain(torch.zeros(2, 1, 4, 4)).probs is None


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """Random InceptionV3 weights (about 100 MB) written once as safetensors."""
    path = tmp_path_factory.mktemp("inception") / "inception.safetensors"
    torch.manual_seed(0)
    net = InceptionV3Features(input_size=75)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def test_inception_plumbing_with_random_weights(inception_file):
    ex = inception_extractor(inception_file, input_size=75)
    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    out = ex(x, batch_size=2)
    assert out.features.shape == (3, 2048) and out.probs.shape == (3, 1008)
    assert torch.isfinite(out.features).all() and (out.features >= 0).all()  # pooled ReLUs
    assert ex.name == "inception" and ex.cache_id.startswith("inception@")
    # The weights were loaded strictly: a fresh network with the file's tensors agrees.
    ref = InceptionV3Features(input_size=75).eval()
    ref.load_state_dict(load_file(str(inception_file)))
    with torch.no_grad():
        expected, _ = ref(to_unit_range(x).expand(-1, 3, -1, -1))
    assert torch.allclose(out.features, expected, atol=1e-5)


def test_inception_standard_geometry():
    net = InceptionV3Features().eval()  # 299x299 input: 35x35, 17x17 and 8x8 grids
    with torch.no_grad():
        features, logits = net(torch.zeros(1, 3, 40, 40))
    assert features.shape == (1, 2048) and logits.shape == (1, 1008)


def test_inception_weight_checks(tmp_path, inception_file):
    with pytest.raises(DataError, match="sha256"):
        load_inception(inception_file, sha256="0" * 64, input_size=75)
    # A file under the pytorch-fid name must carry that name's sha256 prefix.
    fake = tmp_path / FID_WEIGHTS_NAME
    torch.save({"x": torch.zeros(1)}, fake)
    with pytest.raises(DataError, match="6726825d"):
        load_inception(fake, input_size=75)
    partial = tmp_path / "partial.pth"
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, partial)
    with pytest.raises(DataError, match="missing keys"):
        load_inception(partial, input_size=75)
    with pytest.raises(DataError, match="not found"):
        load_inception(tmp_path / "nope.pth")
    with pytest.raises(ConfigError, match="at least 75"):
        InceptionV3Features(input_size=32)


def test_inception_loads_a_pth_state_dict_without_unpickling_code(tmp_path, inception_file):
    pth = tmp_path / "b.pth"
    torch.save(load_file(str(inception_file)), pth)
    a = inception_extractor(inception_file, input_size=75)
    b = inception_extractor(pth, input_size=75)
    x = np.zeros((1, 3, 8, 8), dtype=np.uint8)
    assert torch.allclose(a(x).features, b(x).features, atol=1e-5)
    assert a.cache_id != b.cache_id  # different files, different cache entries
