"""Typed captions -> phi(t) with a TextEncoder, and the tokenisation every part of gankit.text
shares. Unknown words are named in one warning line and ignored; an empty caption, or one of
unknown words only, is a one-line ConfigError. (No import of gankit.runs: runs imports this.)"""

from __future__ import annotations

import re
import sys

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.networks.text_dcgan import TextEncoder

TOKEN_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-case words: letters and digits, hyphenated words kept whole ("t-shirt")."""
    return TOKEN_RE.findall(text.lower())


def token_ids(encoder: TextEncoder, tokens: list[list[str]]) -> Tensor:
    """(N, L) int64 ids of known words, 0-padded; unknown words are dropped."""
    rows = [[encoder.index[w] for w in ws if w in encoder.index] for ws in tokens]
    ids = torch.zeros(len(rows), max([1, *map(len, rows)]), dtype=torch.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return ids


def encode_captions(encoder: TextEncoder, captions: list[str], warn: bool = True) -> Tensor:
    """phi(t) of each caption, float32 (N, E) on the CPU."""
    if isinstance(captions, str) or not captions:
        raise ConfigError("give a list of one or more captions, e.g. ['a dark ankle boot'].")
    tokens = []
    for text in captions:
        words = tokenize(str(text))
        if not words:
            raise ConfigError(
                f"caption {str(text)!r} is empty; type words such as 'a dark ankle boot'."
            )
        tokens.append(words)
    unknown = sorted({w for ws in tokens for w in ws if w not in encoder.index})
    for text, words in zip(captions, tokens, strict=True):
        if all(w not in encoder.index for w in words):
            raise ConfigError(
                f"caption {text!r} has no word this text encoder knows; known words include "
                f"{_known_words(encoder)}."
            )
    if unknown and warn:
        print(
            f"gankit: warning: unknown words ignored: {', '.join(map(repr, unknown))}",
            file=sys.stderr,
        )
    ids = token_ids(encoder, tokens).to(next(encoder.parameters()).device)
    with torch.no_grad():
        return encoder.eval()(ids).float().cpu()


def _known_words(encoder: TextEncoder, n: int = 12) -> str:
    words = [w for w in encoder.vocab if len(w) > 2][:n]
    return ", ".join(words) + (", ..." if len(encoder.vocab) > n else "")
