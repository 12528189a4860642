"""The self-attention block of SAGAN: Zhang, Goodfellow, Metaxas & Odena 2018,
"Self-Attention Generative Adversarial Networks", Sec. 3.

For feature maps x (C channels, N = H W positions) three 1x1 convolutions give queries
f(x) = W_f x, keys g(x) = W_g x (C/8 channels each) and values h(x) = W_h x; position j
attends to every position i with weights beta_{j,i} = softmax_i(f(x_j)^T g(x_i)) (Eq. 1), and
the block returns

    y = gamma * v(sum_i beta_{j,i} h(x_i)) + x      (Eq. 2-3),

with gamma a learnable scalar initialised to 0, so the network first relies on local
convolutions and learns to weigh in non-local evidence (Sec. 3). As in the authors' released
code, the values have C/2 channels (mapped back to C by v, a 1x1 convolution), and the keys
and values are max-pooled 2x2, which cuts the attention matrix to N x N/4 (odd sides round up).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gankit.errors import ConfigError


class SelfAttention2d(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        if channels < 8:
            raise ConfigError(
                f"self-attention needs at least 8 channels (queries have C/8), got {channels}; "
                "widen the network or move the attention to a wider layer."
            )
        c8, c2 = channels // 8, channels // 2
        self.query = nn.Conv2d(channels, c8, 1, bias=False)  # W_f
        self.key = nn.Conv2d(channels, c8, 1, bias=False)  # W_g
        self.value = nn.Conv2d(channels, c2, 1, bias=False)  # W_h
        self.out = nn.Conv2d(c2, channels, 1, bias=False)  # v
        self.gamma = nn.Parameter(torch.zeros(()))  # 0 at the start (Sec. 3)

    def attention(self, x: Tensor) -> Tensor:
        """beta, (B, N, N') with N = H W queries and N' pooled key positions; rows sum to 1."""
        q = self.query(x).flatten(2)  # (B, C/8, N)
        k = F.max_pool2d(self.key(x), 2, ceil_mode=True).flatten(2)  # (B, C/8, N')
        return torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, N, N')

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        v = F.max_pool2d(self.value(x), 2, ceil_mode=True).flatten(2)  # (B, C/2, N')
        o = v @ self.attention(x).transpose(1, 2)  # (B, C/2, N): sum_i beta_{j,i} h(x_i)
        return x + self.gamma * self.out(o.view(b, -1, h, w))
