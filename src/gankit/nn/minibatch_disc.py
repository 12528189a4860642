"""Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs",
Sec. 3.2): D sees how close each sample is to the others in its batch, so a generator that
puts the whole batch on one point is easy to spot."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MinibatchDiscrimination(nn.Module):
    """f(x_i) in R^A  ->  [f(x_i), o(x_i)] in R^(A+B).

    M_i = f(x_i) T reshaped to (B, C); c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1);
    o(x_i)_b = sum_j c_b(x_i, x_j)  (Salimans et al. 2016, Sec. 3.2, the sum runs over the
    whole minibatch including j = i, as written there).
    """

    def __init__(
        self,
        in_features: int,  # A
        kernels: int = 50,  # B: number of closeness features added
        kernel_dims: int = 5,  # C: dimension each closeness is measured in
    ):
        super().__init__()
        self.kernels, self.kernel_dims = kernels, kernel_dims
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dims) * 0.1)

    def forward(self, f: Tensor) -> Tensor:
        m = (f @ self.T).view(-1, self.kernels, self.kernel_dims).transpose(0, 1)  # (B, N, C)
        l1 = torch.cdist(m, m, p=1)  # (B, N, N): ||M_i,b - M_j,b||_1, without an (N, N, B, C) copy
        o = torch.exp(-l1).sum(dim=2)  # (B, N)
        return torch.cat([f, o.t()], dim=1)
