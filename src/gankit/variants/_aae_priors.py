"""Helpers of the adversarial autoencoder (gankit.variants.aae): its priors p(z), the
labelled subset of the semi-supervised mode and the cluster -> class labelling rules.

Priors (Makhzani et al. 2015): ``gaussian`` N(0, I) (Sec. 2, Fig. 2); ``mixture``, K 2-D
Gaussians on a circle (Fig. 4; geometry in gankit.networks.aae.mixture_params); and
``categorical``, Cat(K) one-hots y beside a style z ~ N(0, I) (Sec. 5-6, Fig. 8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError
from gankit.networks.aae import mixture_params

PRIORS = ("gaussian", "mixture", "categorical")


def draw_prior(
    prior: str,
    n: int,
    z_dim: int,
    k: int,
    gen: torch.Generator,
    mixture: list[float] | None = None,
) -> tuple[Tensor | None, Tensor]:
    """``n`` prior samples drawn with ``gen``: (one-hot y (n, K) or None, z (n, z_dim)).

    ``gaussian``: z ~ N(0, I). ``categorical``: y ~ Cat(K) one-hot and z ~ N(0, I).
    ``mixture``: a component k ~ U{0..K-1}, eps ~ N(0, I_2), z = m_k + A_k eps (y None).
    """
    device = gen.device
    if prior == "gaussian":
        return None, torch.randn((n, z_dim), generator=gen, device=device)
    comp = torch.randint(k, (n,), generator=gen, device=device)
    onehot = F.one_hot(comp, k).float()
    eps = torch.randn((n, z_dim), generator=gen, device=device)
    if prior == "categorical":
        return onehot, eps
    centres, maps = (t.to(device) for t in mixture_params(k, *mixture[1:]))
    return None, centres[comp] + (maps[comp] @ eps.unsqueeze(2)).squeeze(2)


def labelled_subset(y: Tensor, n: int, seed: int) -> Tensor:
    """Indices of ``n`` labelled examples, balanced over the classes (n // C each, the
    remainder one more for the first classes), drawn with ``seed``: the same subset for
    the same seed (Makhzani et al., Sec. 5: "1000 labels"). Sorted."""
    classes = int(y.max()) + 1
    if n > len(y):
        raise ConfigError(
            f"options.labels={n} is more than the {len(y)} training examples; choose at most "
            f"{len(y)}."
        )
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(classes):
        want = n // classes + (1 if c < n % classes else 0)
        members = torch.nonzero(y == c).flatten()
        if want > len(members):
            raise ConfigError(
                f"options.labels={n} asks for {want} examples of class {c}, which has only "
                f"{len(members)}; choose fewer labels."
            )
        picked.append(members[torch.randperm(len(members), generator=gen)[:want]])
    return torch.cat(picked).sort().values


def label_by_confidence(probs: Tensor, labels: Tensor) -> Tensor:
    """Each cluster k takes the class of the training point with the largest q(y=k|x)
    (Makhzani et al., Sec. 6: "the label of the training point with the maximum q(y|x)").
    probs (N, K), labels (N,) -> (K,) classes."""
    return labels[probs.argmax(0)]


def label_by_majority(assign: Tensor, labels: Tensor, k: int) -> Tensor:
    """Each cluster takes the most frequent class of the training points assigned to it
    (an empty cluster takes class 0). assign, labels (N,) -> (k,) classes."""
    classes = int(labels.max()) + 1
    counts = torch.zeros(k, classes, dtype=torch.long)
    counts.index_put_((assign, labels), torch.ones_like(labels), accumulate=True)
    return counts.argmax(1)
