"""Chunked pairwise squared Euclidean distances, k-NN radii and nearest-neighbour distances.

Everything works on squared distances so no square root is ever taken over a whole block.
Blocks are computed as ``|a|^2 + |b|^2 - 2 a b^T`` with one matrix product (what
``torch.cdist`` does in its matrix-product mode, without the square root), so memory stays at
one ``chunk_size x chunk_size`` block however many samples there are. Callers centre the data
on the reference set's mean first, which keeps the cancellation error of that formula small.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from gankit.errors import DataError

DEFAULT_CHUNK = 2048


def _check_chunk(chunk_size: int) -> int:
    if int(chunk_size) < 1:
        raise DataError(f"chunk_size must be a positive integer, got {chunk_size}")
    return int(chunk_size)


def centre(ref: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Subtract the mean of ``ref`` from ``ref`` and each of ``others`` (distances unchanged)."""
    mean = ref.mean(dim=0, keepdim=True)
    return [ref - mean] + [o - mean for o in others]


def sq_dist_block(a: torch.Tensor, a_sq: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor):
    """Squared distances between the rows of ``a`` and ``b`` given their squared norms."""
    d = torch.addmm(a_sq.unsqueeze(1), a, b.T, beta=1.0, alpha=-2.0)
    d += b_sq.unsqueeze(0)
    return d.clamp_min_(0.0)


def blocks(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) pairs covering range(n) in steps of ``chunk_size``."""
    for start in range(0, n, chunk_size):
        yield start, min(start + chunk_size, n)


def _merge_smallest(old: torch.Tensor, new: torch.Tensor, k: int) -> torch.Tensor:
    return torch.cat([old, new], dim=1).topk(k, dim=1, largest=False).values


def knn_sq_radii(
    x: torch.Tensor, ks: Sequence[int], chunk_size: int = DEFAULT_CHUNK
) -> dict[int, torch.Tensor]:
    """For each k in ``ks``: the squared distance from every row of ``x`` to its k-th nearest
    other row (the point itself excluded, duplicates of it included).

    Only the blocks on and above the diagonal are computed; each serves both its rows and its
    columns, so the cost is half of a full ``N x N`` distance matrix.
    """
    chunk_size = _check_chunk(chunk_size)
    n, kmax = x.shape[0], max(ks)
    if min(ks) < 1:
        raise DataError(f"k must be >= 1, got {min(ks)}")
    if n <= kmax:
        raise DataError(f"k-NN radii with k={kmax} need more than {kmax} samples, got {n}")
    sq = (x * x).sum(dim=1)
    best = torch.full((n, kmax), float("inf"), dtype=x.dtype)
    for i0, i1 in blocks(n, chunk_size):
        for j0, j1 in blocks(n, chunk_size):
            if j0 < i0:
                continue
            d = sq_dist_block(x[i0:i1], sq[i0:i1], x[j0:j1], sq[j0:j1])
            if i0 == j0:
                d.fill_diagonal_(float("inf"))
            rows = d.topk(min(kmax, j1 - j0), dim=1, largest=False).values
            best[i0:i1] = _merge_smallest(best[i0:i1], rows, kmax)
            if j0 != i0:
                cols = d.topk(min(kmax, i1 - i0), dim=0, largest=False).values.T
                best[j0:j1] = _merge_smallest(best[j0:j1], cols, kmax)
    return {k: best[:, k - 1].clone() for k in ks}


def nearest_sq_dist(
    queries: torch.Tensor, ref: torch.Tensor, chunk_size: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """Squared distance from each row of ``queries`` to its nearest row of ``ref``."""
    chunk_size = _check_chunk(chunk_size)
    q_sq, r_sq = (queries * queries).sum(dim=1), (ref * ref).sum(dim=1)
    out = torch.full((queries.shape[0],), float("inf"), dtype=queries.dtype)
    for i0, i1 in blocks(queries.shape[0], chunk_size):
        for j0, j1 in blocks(ref.shape[0], chunk_size):
            d = sq_dist_block(queries[i0:i1], q_sq[i0:i1], ref[j0:j1], r_sq[j0:j1])
            out[i0:i1] = torch.minimum(out[i0:i1], d.min(dim=1).values)
    return out
