"""PacGAN packing (Lin et al. 2018, "PacGAN: The power of two samples in GANs", Sec. 3):
D judges m samples at once, all real or all generated, which makes a generator that puts its
mass on few modes much easier to detect."""

from __future__ import annotations

from torch import Tensor


def pack(x: Tensor, m: int) -> Tensor:
    """(N, *S) -> (N/m, m*S_0, *S_1...): m consecutive samples concatenated along the first
    feature axis (features for vectors, channels for images, as in Lin et al. 2018)."""
    if m == 1:
        return x
    n = x.shape[0]
    if n % m:
        raise ValueError(f"a batch of {n} cannot be packed in groups of {m}")
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])


def unpack_repeat(x: Tensor, m: int) -> Tensor:
    """Repeat each sample m times, so that packing gives one decision per sample (packs of
    m copies); used to draw D's value at single points, e.g. over a 2-D contour grid."""
    return x if m == 1 else x.repeat_interleave(m, dim=0)
