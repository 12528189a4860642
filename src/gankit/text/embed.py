"""phi(t) of typed captions: :func:`embed_captions`, shared by the CLI, the variants and the
benchmarks. Unknown words are named in one warning line and ignored; an empty caption, or one
of unknown words only, is a one-line ConfigError."""

from __future__ import annotations

import os

import torch
from torch import Tensor

from gankit.networks.text_dcgan import TextEncoder
from gankit.text.typed import encode_captions


def embed_captions(
    run_or_encoder: str | os.PathLike | TextEncoder, captions: list[str], warn: bool = True
) -> Tensor:
    """phi(t) of each caption, float32 (N, E) on the CPU, from a run directory (its saved
    encoder, through :meth:`gankit.runs.Generator.embed`) or a :class:`TextEncoder`
    (gankit.text.typed.encode_captions)."""
    if isinstance(run_or_encoder, TextEncoder):
        return encode_captions(run_or_encoder, captions, warn)
    from gankit.runs import load_generator  # late: runs imports gankit.text.typed

    # the run's sampler knows its encoder and refuses runs that take no (typed) caption
    return load_generator(run_or_encoder).embed(captions, warn)


BANK_SIZE = 1024  # training captions' phi(t) a run keeps for sampling without a caption


def encoder_network(data, bank_size: int = BANK_SIZE) -> TextEncoder:
    """A text-conditioned run's network holding the captioned dataset's encoder (so that
    `gankit sample --text` needs only the run) and, as buffer ``bank``, the phi(t) of
    ``bank_size`` training items (the first of a permutation seeded 0). Data with the user's
    own embeddings (no encoder) gets an empty vocabulary: the run then refuses typed text."""
    from gankit.networks import build_network
    from gankit.text.encoder import dataset_encoder

    text = data.fields["text"].float()
    source = dataset_encoder(data)
    if source is None:
        vocab, arch = [], {"embed_dim": 1, "hidden": 1, "out_dim": text.shape[1]}
    else:
        spec = source.spec["kwargs"]
        vocab = spec["vocab"]
        arch = {k: v for k, v in spec.items() if k not in ("vocab", "bank_size")}
    size = min(bank_size, len(text))
    rows = torch.randperm(len(text), generator=torch.Generator().manual_seed(0))[:size]
    net = build_network("text_encoder", vocab=vocab, **arch, bank_size=size)
    state = net.state_dict() if source is None else dict(source.state_dict())
    state["bank"] = text[rows].clone()
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)
