"""Stabilisation tricks as small composable helpers; the GAN game (variants/gan.py) calls them.

Each trick is one config key (section ``tricks``, or an existing ``train`` key) and one helper
here, with the paper it comes from. :func:`check_tricks` rejects combinations that make no
sense (a trick with a loss it does not apply to) before training starts, naming both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from gankit.config import Config, TricksConfig
from gankit.errors import ConfigError
from gankit.losses.compat import (  # noqa: F401  (gp_weight, clip_value re-exported)
    LABEL_TRICKS,
    check_loss_tricks,
    clip_value,
    gp_weight,
)


@dataclass(frozen=True)
class Trick:
    keys: str  # the config keys that turn it on
    reference: str


# What `gankit list` prints and docs/tricks.md explains.
TRICKS: dict[str, Trick] = {
    "label_smoothing": Trick(
        "tricks.label_smoothing=0.1", "Salimans et al. 2016, Sec. 3.4 (one-sided)"
    ),
    "soft_labels": Trick("tricks.soft_labels=0.2", "Chintala et al. 2016, ganhacks #6"),
    "noisy_labels": Trick("tricks.label_flip=0.05", "Chintala et al. 2016, ganhacks #6"),
    "instance_noise": Trick(
        "tricks.instance_noise=0.1",
        "Sonderby et al. 2016; Arjovsky & Bottou 2017",
    ),
    "minibatch_discrimination": Trick(
        "tricks.minibatch_disc=true", "Salimans et al. 2016, Sec. 3.2"
    ),
    "feature_matching": Trick("tricks.feature_matching=true", "Salimans et al. 2016, Sec. 3.1"),
    "historical_averaging": Trick(
        "tricks.historical_averaging=1e-3", "Salimans et al. 2016, Sec. 3.3"
    ),
    "virtual_batch_norm": Trick("tricks.vbn=64", "Salimans et al. 2016, Sec. 3.4"),
    "spectral_norm": Trick("tricks.spectral_norm=true", "Miyato et al. 2018"),
    "two_time_scale": Trick("train.lr_d=4e-4 train.lr_g=1e-4", "Heusel et al. 2017 (TTUR)"),
    "ema_generator": Trick("train.ema=0.999", "Yazici et al. 2019; Karras et al. 2018"),
    "pacgan": Trick("tricks.pack=4", "Lin et al. 2018"),
    "unrolled": Trick("tricks.unrolled_steps=5", "Metz et al. 2016"),
    "k_d_steps": Trick("train.d_steps=5", "Goodfellow et al. 2014, Algorithm 1"),
    "lr_decay": Trick("train.lr_decay=0.5", "linear decay to 0 over the last half"),
    "gradient_penalty": Trick("tricks.gp_weight=10", "Gulrajani et al. 2017"),
    "r1": Trick("tricks.r1_weight=10", "Mescheder et al. 2018"),
    "weight_clipping": Trick("train.loss=wgan tricks.clip_value=0.01", "Arjovsky et al. 2017"),
}


# --- configuration ------------------------------------------------------------------------------
def _spec_kwargs(net: nn.Module) -> dict[str, Any]:
    return getattr(net, "spec", {}).get("kwargs", {})


def check_tricks(cfg: Config, nets: dict[str, nn.Module]) -> None:
    """Raise a ConfigError for a trick that cannot work with this loss or these networks."""
    k, variant = cfg.tricks, cfg.train.variant
    check_loss_tricks(k, cfg.train.loss)
    d_kw, g_kw = _spec_kwargs(nets["D"]), _spec_kwargs(nets["G"])
    needs = {
        "pack": (k.pack > 1, d_kw.get("pack", 1) == k.pack, "D"),
        "minibatch_disc": (k.minibatch_disc, d_kw.get("minibatch_disc", False), "D"),
        "spectral_norm": (k.spectral_norm, d_kw.get("spectral_norm", False), "D"),
        "vbn": (k.vbn > 0, g_kw.get("vbn", 0) == k.vbn, "G"),
    }
    for key, (wanted, built, who) in needs.items():
        if wanted and not built:
            raise ConfigError(
                f"tricks.{key} is not supported by train.variant={variant}: its {who} network "
                "was built without it; drop the trick or use variant gan / dcgan."
            )
    if k.feature_matching and not callable(getattr(nets["D"], "features", None)):
        raise ConfigError(
            f"tricks.feature_matching needs a discriminator with features(); the one of "
            f"train.variant={variant} has none."
        )


def generator_options(cfg: Config) -> dict[str, Any]:
    """Constructor options of G for the tricks that live in the network (only those set, so a
    plain network keeps its plain spec)."""
    return {"vbn": cfg.tricks.vbn} if cfg.tricks.vbn else {}


def discriminator_options(cfg: Config) -> dict[str, Any]:
    """Constructor options of D for packing, minibatch discrimination, spectral norm."""
    k = cfg.tricks
    out: dict[str, Any] = {}
    if k.pack > 1:
        out["pack"] = k.pack
    if k.minibatch_disc:
        out.update(minibatch_disc=True, mbd_kernels=k.mbd_kernels, mbd_dims=k.mbd_dims)
    if k.spectral_norm:
        out["spectral_norm"] = True
    return out


@torch.no_grad()
def init_vbn_reference(
    G: nn.Module, sample_z: Callable[[int, torch.Generator], Tensor], seed: int
) -> None:
    """Draw VBN's reference batch once, at the start of training (Salimans et al. 2016, 3.4);
    it is a buffer of G, so it is saved with G and `load_generator` restores it."""
    ref = getattr(G, "vbn_ref_z", None)
    if ref is not None:
        ref.copy_(sample_z(ref.shape[0], torch.Generator().manual_seed(seed)))


# --- labels -------------------------------------------------------------------------------------
def d_targets(
    k: TricksConfig, n_real: int, n_fake: int, device: torch.device, rng: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Per-decision targets of D: real 1, fake 0, then

    * one-sided label smoothing: real 1 - s (Salimans et al. 2016, Sec. 3.4; fakes stay at 0,
      because smoothing them would reward G's samples where p_data is 0);
    * soft labels: real - w u, fake + w u with u ~ U[0, 1] per sample (Chintala et al. 2016);
    * noisy labels: each target t becomes 1 - t with probability p (Chintala et al. 2016).
    """

    def uniform(n: int) -> Tensor:
        return torch.rand(n, generator=rng, device=device)

    real = torch.full((n_real,), 1.0 - k.label_smoothing, device=device)
    fake = torch.zeros(n_fake, device=device)
    if k.soft_labels:
        real = real - k.soft_labels * uniform(n_real)
        fake = fake + k.soft_labels * uniform(n_fake)
    if k.label_flip:
        real = torch.where(uniform(n_real) < k.label_flip, 1 - real, real)
        fake = torch.where(uniform(n_fake) < k.label_flip, 1 - fake, fake)
    return real, fake


def uses_targets(k: TricksConfig) -> bool:
    return any(getattr(k, key) for key in LABEL_TRICKS)


# --- instance noise -----------------------------------------------------------------------------
def instance_noise_std(k: TricksConfig, step: int, total_steps: int) -> float:
    """sigma(step) of instance noise, annealed from ``k.instance_noise`` to 0 over
    ``k.instance_noise_steps`` steps (or the whole run): Sonderby et al. 2016, "Amortised MAP
    Inference for Image Super-resolution", Sec. 3.2 (noise on real and fake D inputs makes
    the two distributions overlap; it is annealed because it biases the optimum).

    linear: 1 - f; cosine: (1 + cos(pi f)) / 2; exponential: 0.01^f, with f = step / steps
    and 0 from the last step on. A pure function of the step, so resume is exact.
    """
    if k.instance_noise <= 0:
        return 0.0
    span = k.instance_noise_steps or total_steps
    if step >= span:
        return 0.0
    f = step / span
    shape = {
        "linear": 1.0 - f,
        "cosine": 0.5 * (1.0 + math.cos(math.pi * f)),
        "exponential": 0.01**f,
    }[k.instance_noise_schedule]
    return k.instance_noise * shape


def add_noise(x: Tensor, std: float, rng: torch.Generator | None) -> Tensor:
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)


# --- feature matching ---------------------------------------------------------------------------
def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """||E_x f(x) - E_z f(G(z))||_2^2 over an intermediate layer f of D (Salimans et al. 2016,
    Sec. 3.1); D's features of real data are a fixed target for G."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).sum()


# --- historical averaging -----------------------------------------------------------------------
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


# --- unrolled discriminator ---------------------------------------------------------------------
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


# --- learning-rate decay ------------------------------------------------------------------------
def lr_decay_factor(lr_decay: float, step: int, total_steps: int) -> float:
    """Factor on both learning rates at ``step``: 1, then falling linearly over the last
    ``lr_decay`` fraction of the run to 1 / (that many steps) at the last step, never 0 (the
    loop rescales the rates by ratios of this factor). Small late steps let G settle on the
    modes instead of circling them: the simultaneous gradient game does not converge at a
    constant step size (Mescheder et al. 2018, Sec. 2)."""
    span = lr_decay * total_steps
    if span < 1 or step < total_steps - span:
        return 1.0
    return max(total_steps - step, 1) / span


# --- WGAN weight clipping -----------------------------------------------------------------------
def weight_clipper(module: nn.Module, c: float) -> Callable[[], None]:
    """After each critic update, clamp every weight to [-c, c] (Arjovsky et al. 2017, Alg. 1,
    line 7): a crude way to keep the critic K-Lipschitz."""
    params = list(module.parameters())

    @torch.no_grad()
    def clip() -> None:
        for p in params:
            p.clamp_(-c, c)

    return clip
