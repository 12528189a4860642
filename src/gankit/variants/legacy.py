"""Reading checkpoints written before named exports (format ``gankit-checkpoint-1``).

Those checkpoints come from the G/D-only contract: the sampler was always the network ``G``,
its average was saved under ``G_ema.``, and ``generator_input`` described G's labels and
codes. This module turns such a checkpoint into today's form, so that run directories of
earlier releases still sample, evaluate and resume. It lives with the variants because the
old network names are theirs.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from gankit.exports import Export, exports_to_meta
from gankit.networks.conditional import LatentLayout

OLD_EMA_PREFIX = "G_ema."


def upgrade(tensors: dict[str, Tensor], meta: dict[str, Any]) -> tuple[dict, dict]:
    """(tensors, meta) of a format-1 checkpoint in today's names; raises KeyError, TypeError
    or ValueError on a damaged one (the caller turns those into one CheckpointError)."""
    tensors = {
        ("ema.G." + k[len(OLD_EMA_PREFIX) :] if k.startswith(OLD_EMA_PREFIX) else k): v
        for k, v in tensors.items()
    }
    g_kwargs = meta["networks"]["G"]["kwargs"]
    layout_meta = meta.get("generator_input") or LatentLayout(int(g_kwargs["z_dim"])).to_meta()
    layout = LatentLayout.from_meta(layout_meta)
    exports = {
        "sample": Export(
            "G",
            "sample",
            input={"kind": "noise", "shape": [layout.z_dim]},
            output={"kind": meta.get("data_kind", "vector"), "shape": meta.get("data_shape", [])},
            layout=layout.to_meta(),
        )
    }
    if layout.categorical:  # InfoGAN: Q(c | x) is the second output of D.outputs(x)
        exports["codes"] = Export(
            "D",
            "map",
            input={"kind": meta.get("data_kind", "vector"), "shape": meta.get("data_shape", [])},
            output={"kind": "codes", "shape": [layout.code_dim]},
            ema=False,
            call="outputs",
            index=1,
            description="InfoGAN's Q head: logits of each categorical code, continuous means",
        )
    return tensors, {**meta, "exports": exports_to_meta(exports), "ema_modules": ["G"]}
