"""Historical averaging (Salimans et al. 2016, Sec. 3.3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class HistoricalAverage:
    """Salimans et al. 2016, Sec. 3.3: each player's cost gets ||theta - (1/t) sum_i theta[i]||^2,
    the average running over the parameters of its past updates.

    The running means are trick state: :meth:`state` / :meth:`load_state` put them in the
    checkpoint so that a resumed run continues exactly.
    """

    def __init__(self, weight: float):
        self.weight = weight
        self.means: dict[str, dict[str, Tensor]] = {}  # player -> parameter name -> mean
        self.counts: dict[str, Tensor] = {}  # player -> number of past parameter vectors

    def term(self, player: str, module: nn.Module) -> Tensor:
        module = getattr(module, "module", module)  # a DDP wrapper's names carry "module."
        params = dict(module.named_parameters())
        if player not in self.means:  # no history before the first update
            self.means[player] = {n: p.detach().clone() for n, p in params.items()}
            self.counts[player] = torch.ones((), device=next(iter(params.values())).device)
            return torch.zeros((), device=self.counts[player].device)
        mean = self.means[player]
        penalty = sum((p - mean[n].to(p.device)).pow(2).sum() for n, p in params.items())
        # fold this update's parameters into the running mean: m += (theta - m) / t
        count = self.counts[player].to(penalty.device) + 1
        for n, p in params.items():
            mean[n] = mean[n].to(p.device) + (p.detach() - mean[n].to(p.device)) / count
        self.counts[player] = count
        return self.weight * penalty

    def state(self) -> dict[str, Tensor]:
        out = {f"hist_count.{player}": c for player, c in self.counts.items()}
        for player, means in self.means.items():
            out.update({f"hist.{player}.{n}": v for n, v in means.items()})
        return out

    def load_state(self, tensors: dict[str, Tensor]) -> None:
        self.means, self.counts = {}, {}
        for key, v in tensors.items():
            kind, player, *name = key.split(".")
            if kind == "hist_count":
                self.counts[player] = v.clone()
            elif kind == "hist":
                self.means.setdefault(player, {})[".".join(name)] = v.clone()
