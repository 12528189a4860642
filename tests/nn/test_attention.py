"""SAGAN's layers: the self-attention block (Zhang et al. 2018, Sec. 3) and conditional
batch norm."""

import pytest
import torch

from gankit.errors import ConfigError
from gankit.nn.attention import SelfAttention2d
from gankit.nn.cond_bn import ConditionalBatchNorm2d


def test_attention_starts_as_the_identity_and_its_weights_are_a_distribution():
    torch.manual_seed(0)
    block = SelfAttention2d(16)
    x = torch.randn(2, 16, 7, 7)
    assert block.gamma.item() == 0.0 and torch.equal(block(x), x)  # gamma = 0 at the start
    beta = block.attention(x)
    assert beta.shape == (2, 49, 16)  # 7x7 queries; keys max-pooled 2x2 to 4x4 (rounded up)
    assert torch.allclose(beta.sum(-1), torch.ones(2, 49)) and bool((beta >= 0).all())


def test_attention_is_non_local():
    """With gamma != 0 the output at one corner depends on the input at the opposite corner,
    which no 1x1 convolution could do."""
    torch.manual_seed(1)
    block = SelfAttention2d(8)
    with torch.no_grad():
        block.gamma.fill_(1.0)
    x = torch.randn(1, 8, 8, 8, requires_grad=True)
    block(x)[0, :, 0, 0].sum().backward()
    assert float(x.grad[0, :, 7, 7].abs().sum()) > 0


def test_attention_matches_its_equations_by_hand():
    torch.manual_seed(2)
    block = SelfAttention2d(8)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(1, 8, 4, 4)
    f = block.query(x).flatten(2)[0]  # (1, 16)
    g = torch.nn.functional.max_pool2d(block.key(x), 2).flatten(2)[0]  # (1, 4)
    h = torch.nn.functional.max_pool2d(block.value(x), 2).flatten(2)[0]  # (4, 4)
    beta = torch.softmax(f.T @ g, dim=1)  # (16, 4): Eq. 1
    o = (h @ beta.T).view(1, 4, 4, 4)  # Eq. 2
    want = x + 0.7 * block.out(o)  # Eq. 3
    assert torch.allclose(block(x), want, atol=1e-6)


def test_attention_needs_eight_channels():
    with pytest.raises(ConfigError, match="at least 8 channels"):
        SelfAttention2d(4)


def test_conditional_batch_norm_scales_and_shifts_by_class():
    cbn = ConditionalBatchNorm2d(3, num_classes=2)
    with torch.no_grad():
        cbn.gain.weight[1] = torch.tensor([2.0, 3.0, 4.0])
        cbn.bias.weight[1] = torch.tensor([1.0, -1.0, 0.5])
    x = torch.randn(6, 3, 5, 5)
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    out = cbn(x, y)
    normed = torch.nn.functional.batch_norm(x, None, None, training=True)
    assert torch.allclose(out[y == 0], normed[y == 0], atol=1e-5)  # gain 1, bias 0 at init
    g, b = cbn.gain.weight[1][:, None, None], cbn.bias.weight[1][:, None, None]
    assert torch.allclose(out[y == 1], normed[y == 1] * g + b, atol=1e-5)
    with pytest.raises(ValueError, match="pass labels"):
        cbn(x)
    plain = ConditionalBatchNorm2d(3)  # no classes: BatchNorm with its own affine
    assert torch.allclose(plain(x), normed, atol=1e-5)
