"""Unrolled discriminator steps (Metz et al. 2016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call


class FunctionalModule(nn.Module):
    """``module`` evaluated with other parameter tensors (the unrolled ones)."""

    def __init__(self, module: nn.Module, params: dict[str, Tensor]):
        super().__init__()
        self.module, self.params = module, params

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        return functional_call(self.module, self.params, args, kwargs)


def unroll(
    D: nn.Module,
    d_loss_of: Callable[[nn.Module], Tensor],
    steps: int,
    optimizer: torch.optim.Optimizer | None,
    lr: float,
    betas: tuple[float, float],
    eps: float = 1e-8,
) -> FunctionalModule:
    """theta_D^K after K differentiable Adam steps on D's loss (Metz et al. 2016, "Unrolled
    Generative Adversarial Networks", Eq. 5-7): G's loss evaluated on the returned module is
    the surrogate f_K(theta_G, theta_D), and backpropagating it follows how D would react to
    G's change (the second-order term the paper identifies as what prevents collapse).

    ``d_loss_of(module)`` is D's loss with ``module`` in place of D, computed on G's samples
    *with* their graph. The steps continue D's own Adam state (moments and step count from
    ``optimizer``, its current learning rate), as Metz et al.'s implementation unrolls D's
    actual optimizer; D and its optimizer are not modified. With a long moment history the
    step is nearly linear in the gradient, so the second-order term flows; without state
    (before D's first update) the moments start at zero. sqrt(v_hat + eps^2) keeps the step
    differentiable where a gradient is zero.
    """
    named = list(D.named_parameters())
    state = optimizer.state if optimizer is not None else {}
    if optimizer is not None:
        lr, betas = optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["betas"]
    b1, b2 = betas
    params, m, v, t0 = {}, {}, {}, {}
    for n, p in named:
        st = state.get(p, {})
        params[n] = p.detach().requires_grad_(True)
        m[n] = st["exp_avg"].detach() if "exp_avg" in st else torch.zeros_like(p)
        v[n] = st["exp_avg_sq"].detach() if "exp_avg_sq" in st else torch.zeros_like(p)
        t0[n] = int(st["step"]) if "step" in st else 0
    for k in range(1, steps + 1):
        loss = d_loss_of(FunctionalModule(D, params))
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        new = {}
        for (n, p), g in zip(params.items(), grads):
            t = t0[n] + k
            m[n] = b1 * m[n] + (1 - b1) * g
            v[n] = b2 * v[n] + (1 - b2) * g * g
            m_hat, v_hat = m[n] / (1 - b1**t), v[n] / (1 - b2**t)
            new[n] = p - lr * m_hat / (torch.sqrt(v_hat + eps**2) + eps)
        params = new
    return FunctionalModule(D, params)
