"""Virtual batch normalisation (Salimans et al. 2016, "Improved Techniques for Training GANs",
Sec. 3.4): each example is normalised with statistics of a fixed reference batch plus itself,
so G's output for one z no longer depends on the other z in its minibatch.

The reference batch travels with the input: a network with VBN layers is called on
``cat([reference, x])``. Each layer takes the first ``ref_size`` rows as the reference, normalises
them with their own statistics, and normalises every other row with the mixture
(ref_size * reference + the example itself) / (ref_size + 1). Every other layer (Linear, Conv,
ReLU) works per example, so the concatenation changes nothing else; the caller drops the first
``ref_size`` outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class VirtualBatchNorm(nn.Module):
    """VBN over features (N, F) or channels (N, C, H, W), with a learned scale and shift."""

    def __init__(self, num_features: int, ref_size: int, eps: float = 1e-5):
        super().__init__()
        self.ref_size, self.eps = ref_size, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        spatial = tuple(range(2, x.dim()))  # per-example statistics pool over H, W
        shape = (1, -1) + (1,) * len(spatial)
        ref, rest = x[: self.ref_size], x[self.ref_size :]
        # reference statistics over the batch (and space for images): (1, C, 1, 1)
        ref_mean = ref.mean(dim=(0,) + spatial, keepdim=True)
        ref_sq = (ref**2).mean(dim=(0,) + spatial, keepdim=True)
        out_ref = self._normalise(ref, ref_mean, ref_sq)
        if rest.shape[0] == 0:
            return out_ref * self.weight.view(shape) + self.bias.view(shape)
        # each example joins the reference batch with weight 1 / (ref_size + 1)
        new = 1.0 / (self.ref_size + 1)
        own_mean = rest.mean(dim=spatial, keepdim=True) if spatial else rest
        own_sq = (rest**2).mean(dim=spatial, keepdim=True) if spatial else rest**2
        mean = new * own_mean + (1 - new) * ref_mean
        sq = new * own_sq + (1 - new) * ref_sq
        out = torch.cat([out_ref, self._normalise(rest, mean, sq)])
        return out * self.weight.view(shape) + self.bias.view(shape)

    def _normalise(self, x: Tensor, mean: Tensor, mean_sq: Tensor) -> Tensor:
        var = (mean_sq - mean**2).clamp_min(0.0)
        return (x - mean) / torch.sqrt(var + self.eps)
