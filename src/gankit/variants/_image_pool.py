"""The history of generated images a CycleGAN discriminator also sees (Shrivastava et al.
2017, "Learning from Simulated and Unsupervised Images through Adversarial Training",
Sec. 2.3; used by Zhu et al. 2017, Sec. 4 with a buffer of 50).

D is updated with images from the generator's past as well as its latest ones, so that it
does not forget what it rejected before and G cannot oscillate between the same mistakes.
As in Zhu et al.'s code: while the buffer holds fewer than ``size`` images, each new image is
stored and passed on; once it is full, each new image is, with probability 1/2, swapped for a
uniformly chosen stored one (D sees the stored image, the new one takes its place), and
otherwise passed on unchanged.

Every random choice comes from the generator handed to :meth:`ImagePool.query` (the run's
saved noise stream), and :meth:`state` / :meth:`load_state` carry the stored images through
a checkpoint, so a resumed run sees exactly the images an uninterrupted one does.
"""

from __future__ import annotations

import torch
from torch import Tensor


class ImagePool:
    def __init__(self, size: int, item_shape: tuple[int, ...] | None = None):
        if size < 0:
            raise ValueError(f"image pool size must be >= 0, got {size}")
        self.size = size
        self.item_shape = item_shape  # (C, H, W) of one image, where known: checks a restore
        self.images: Tensor | None = None  # (n, C, H, W), n <= size: the stored images

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    @torch.no_grad()
    def query(self, images: Tensor, rng: torch.Generator | None) -> Tensor:
        """The batch D judges in place of ``images`` (N, C, H, W), detached; updates the pool."""
        images = images.detach()
        if self.size == 0:
            return images
        if self.images is not None and self.images.device != images.device:
            self.images = self.images.to(images.device)  # restored from a CPU checkpoint
        device = rng.device if rng is not None else images.device
        # one draw per image, whether the pool is full or not, so that the stream's position
        # depends only on how many images went through
        coin = torch.rand(len(images), generator=rng, device=device).tolist()
        slot = torch.randint(self.size, (len(images),), generator=rng, device=device).tolist()
        out = []
        for i, image in enumerate(images):
            if len(self) < self.size:  # filling up: keep it, pass it on
                new = image.unsqueeze(0).clone()
                self.images = new if self.images is None else torch.cat([self.images, new])
                out.append(image)
            elif coin[i] < 0.5:  # D sees a past image; the new one takes its slot
                out.append(self.images[slot[i]].clone())
                self.images[slot[i]] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state(self, prefix: str) -> dict[str, Tensor]:
        """The stored images under ``prefix`` (nothing while the pool is empty)."""
        return {} if self.images is None else {prefix: self.images.clone()}

    def load_state(self, tensors: dict[str, Tensor], prefix: str) -> None:
        """Restore :meth:`state`; a crafted entry of the wrong form is a ValueError."""
        stored = tensors.get(prefix)
        if stored is None:
            self.images = None
            return
        shape_ok = self.item_shape is None or tuple(stored.shape[1:]) == tuple(self.item_shape)
        if stored.ndim != 4 or not 0 < len(stored) <= self.size or not shape_ok:
            raise ValueError(
                f"{prefix}: {tuple(stored.shape)} is not a pool of at most {self.size} images"
                + (f" of shape {tuple(self.item_shape)}" if self.item_shape else "")
            )
        if not stored.is_floating_point():
            raise ValueError(f"{prefix}: {stored.dtype} images, not floating point")
        self.images = stored.clone()
