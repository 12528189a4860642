import pytest
import torch

from gankit.errors import ConfigError
from gankit.noise import NoisePrior


@pytest.mark.parametrize("kind,var", [("normal", 1.0), ("uniform", 1 / 3), ("student_t", 5 / 3)])
def test_prior_moments(kind, var):
    z = NoisePrior(kind, 4, df=5.0).sample(100_000, torch.Generator().manual_seed(0))
    assert z.shape == (100_000, 4)
    assert abs(z.mean().item()) < 0.02
    assert z.var().item() == pytest.approx(var, rel=0.05)


def test_uniform_range_and_heavy_tails():
    g = torch.Generator().manual_seed(1)
    u = NoisePrior("uniform", 2).sample(10_000, g)
    assert u.min() >= -1 and u.max() <= 1
    t = NoisePrior("student_t", 1, df=1.0).sample(20_000, g)  # Cauchy: heavy tails
    n = NoisePrior("normal", 1).sample(20_000, g)
    assert t.abs().max() > 10 * n.abs().max()


def test_seeded_streams_repeat():
    p = NoisePrior("student_t", 3, df=2.5)
    a = p.sample(50, torch.Generator().manual_seed(3))
    b = p.sample(50, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bad_prior():
    with pytest.raises(ConfigError, match="unknown noise prior"):
        NoisePrior("cauchy", 2)
