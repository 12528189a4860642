"""Training tricks as composable pieces any variant applies to any of its discriminators.

* ``terms.AdversarialTerms``: one discriminator's adversarial loss with label smoothing, soft
  and noisy labels, instance noise, gradient penalty, R1 and historical averaging applied;
* ``networks``: the tricks built into networks (packing, minibatch discrimination, spectral
  norm, virtual batch norm) as constructor options, and their checks;
* ``unrolled``, ``clipping`` (weight clipping, feature matching): pieces of particular games;
* ``catalog.TRICKS``: what `gankit list` prints and docs/tricks.md explains.

Below ``variants/`` and above ``losses/`` and ``nn/`` in the dependency order (DESIGN).
"""

from gankit.losses.compat import clip_value, gp_weight
from gankit.tricks.catalog import TRICKS, Trick
from gankit.tricks.clipping import feature_matching_loss, weight_clipper
from gankit.tricks.history import HistoricalAverage
from gankit.tricks.labels import d_targets, uses_targets
from gankit.tricks.networks import (
    check_tricks,
    discriminator_options,
    generator_options,
    init_vbn_reference,
)
from gankit.tricks.noise import add_noise, instance_noise_std
from gankit.tricks.terms import AdversarialTerms, history_from
from gankit.tricks.unrolled import FunctionalModule, unroll

__all__ = [
    "TRICKS",
    "AdversarialTerms",
    "FunctionalModule",
    "HistoricalAverage",
    "Trick",
    "add_noise",
    "check_tricks",
    "clip_value",
    "d_targets",
    "discriminator_options",
    "feature_matching_loss",
    "generator_options",
    "gp_weight",
    "history_from",
    "init_vbn_reference",
    "instance_noise_std",
    "unroll",
    "uses_targets",
    "weight_clipper",
]
