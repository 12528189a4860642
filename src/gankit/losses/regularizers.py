"""Discriminator regularizers as pure functions: the WGAN-GP penalty and R1.

Both need the gradient of D's output with respect to its input, so they take a function
``d_fn(x) -> logits`` rather than logits. When D packs m samples into one decision (PacGAN),
``d_fn`` returns N/m logits for N inputs; the gradient is then grouped per pack, because each
logit depends on the m consecutive inputs of its pack only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def interpolation_weights(real: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """epsilon ~ U[0, 1], one per sample, shaped to broadcast over ``real`` (Gulrajani et al.
    2017, Algorithm 1, line 4)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    return torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)


def _input_gradient(d_fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, int]:
    """(dD/dx flattened per decision (n_out, -1), n_out); keeps the graph for a backward."""
    x = x.detach().requires_grad_(True)
    out = d_fn(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(out.shape[0], -1), out.shape[0]


def gradient_penalty(
    d_fn: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor
) -> Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = eps x + (1 - eps) G(z) (Gulrajani et al. 2017,
    Eq. 3 and Algorithm 1, lines 6-7); the caller multiplies by lambda (10 in the paper)."""
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    grad, _ = _input_gradient(d_fn, x_hat)
    return ((grad.norm(dim=1) - 1.0) ** 2).mean()


def r1_penalty(d_fn: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """E_x[||grad_x D(x)||^2] on real data (Mescheder et al. 2018, "Which Training Methods for
    GANs do actually Converge?", Eq. 9); the caller multiplies by gamma / 2."""
    grad, _ = _input_gradient(d_fn, real)
    return grad.pow(2).sum(dim=1).mean()
