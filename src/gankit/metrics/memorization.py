"""Training-set memorisation check by nearest-neighbour distances.

For every generated sample g, d_gen(g) = min_t ||g - t||_2 over the training samples t; for
every held-out real sample h (not used in training), d_ref(h) = min_t ||h - t||_2. A generator
that samples the data distribution without copying should produce d_gen distributed like d_ref;
one that copies training samples produces many d_gen far below it. This is the nearest-
neighbour comparison behind data-copying tests such as Meehan et al., "A Non-Parametric Test to
Detect Data-Copying in Generative Models", AISTATS 2020, reduced to two summary numbers:

* ``median_ratio`` = median(d_gen) / median(d_ref) (about 1 without copying, -> 0 with it);
* ``copy_fraction`` = fraction of generated samples with d_gen < the 1st percentile of d_ref
  (about 0.01 for fresh samples from the data distribution, by construction).

``copies_training_set`` is ``copy_fraction > copy_fraction_threshold`` with default 0.05, i.e.
five times the rate expected of a non-copying generator. The threshold is a heuristic, not a
calibrated test; with few held-out samples the 1st percentile is itself noisy.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.metrics._arrays import as_tensor, same_dim
from gankit.metrics._distances import DEFAULT_CHUNK, centre, nearest_sq_dist
from gankit.metrics.registry import FEATURES, TRAIN_FEATURES, MetricInputs, register_metric

#: Default flag threshold on ``copy_fraction`` (5x the 1% expected without copying).
COPY_FRACTION_THRESHOLD = 0.05


def memorization(
    generated,
    train,
    heldout,
    *,
    copy_fraction_threshold: float = COPY_FRACTION_THRESHOLD,
    chunk_size: int = DEFAULT_CHUNK,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float | bool]:
    """Nearest-training-sample distances of ``generated`` compared with those of ``heldout``;
    all three are (N, D) feature arrays (or flattened samples) of the same dimension.

    Returns ``median_ratio``, ``copy_fraction``, ``copies_training_set`` and the two medians
    ``median_gen_distance`` and ``median_heldout_distance``.
    """
    t = as_tensor(train, dtype, "train features")
    g = as_tensor(generated, dtype, "generated features")
    h = as_tensor(heldout, dtype, "held-out features")
    same_dim(t, g, ("train features", "generated features"))
    same_dim(t, h, ("train features", "held-out features"))
    t, g, h = centre(t, g, h)
    d_gen = nearest_sq_dist(g, t, chunk_size).double().sqrt().numpy()
    d_ref = nearest_sq_dist(h, t, chunk_size).double().sqrt().numpy()
    med_gen, med_ref = float(np.median(d_gen)), float(np.median(d_ref))
    cutoff = float(np.percentile(d_ref, 1.0))
    copy_fraction = float(np.mean(d_gen < cutoff))
    if med_ref > 0:
        ratio = med_gen / med_ref
    else:  # held-out samples duplicate training samples: only "no distance either" is neutral
        ratio = float("inf") if med_gen > 0 else 1.0
    return {
        "median_ratio": ratio,
        "copy_fraction": copy_fraction,
        "copies_training_set": bool(copy_fraction > copy_fraction_threshold),
        "median_gen_distance": med_gen,
        "median_heldout_distance": med_ref,
    }


@register_metric(
    "memorization",
    needs={FEATURES, TRAIN_FEATURES},
    higher_is_better=None,  # median ratio about 1 is right; toward 0 means copying
    description="nearest-training-sample distances of samples vs held-out data, a data-copying "
    "check (after Meehan et al., AISTATS 2020)",
    keys=(
        "mem_median_ratio",
        "mem_copy_fraction",
        "mem_copies_training_set",
        "mem_median_gen_distance",
        "mem_median_heldout_distance",
    ),
    function=memorization,
)
def _score(inputs: MetricInputs) -> dict[str, float | bool]:
    mem = memorization(inputs.features, inputs.train(), inputs.ref_features)
    return {f"mem_{k}": v for k, v in mem.items()}
