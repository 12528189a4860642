"""Text-conditioned networks: the caption encoder phi(t) and the GAN-INT-CLS generator and
discriminator of Reed et al. 2016, "Generative Adversarial Text to Image Synthesis", Sec. 4.1.

* ``text_encoder``: a word-level "deep averaging network" (Iyyer et al. 2015): word
  embeddings averaged over the caption's known words, then a 2-layer MLP, L2-normalised.
  It holds its vocabulary (a JSON list in its spec), so a run's checkpoint alone turns a
  typed caption into phi(t); gankit.text trains it with an image-text matching objective.
* ``text_g``: "the text embedding phi(t) is first compressed using a fully-connected layer to
  a small dimension followed by leaky-ReLU and then concatenated to the noise vector z";
  the rest is a DCGAN generator (gankit.networks.dcgan); the run's text encoder keeps
  training captions' phi(t) for sampling without a caption.
* ``text_d``: a DCGAN discriminator body down to s0 x s0 (4x4, or 7x7 at 28x28); "when the
  spatial dimension of the discriminator is 4 x 4, we replicate the description embedding
  spatially and perform a depth concatenation. We then perform a 1 x 1 convolution followed by
  rectification and a 4 x 4 convolution to compute the final score from D."
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.networks.base import NETWORKS
from gankit.networks.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_levels
from gankit.nn.init import dcgan_init
from gankit.nn.spectral import apply_spectral_norm


@NETWORKS.register("text_encoder")
class TextEncoder(nn.Module):
    def __init__(
        self,
        vocab: list[str],  # known words; word i has id i + 1, id 0 pads
        embed_dim: int = 32,  # word embedding size
        hidden: int = 128,  # the MLP's hidden width
        out_dim: int = 64,  # E, the size of phi(t)
        bank_size: int = 0,  # training captions' phi(t) a run keeps to sample without a caption
    ):
        super().__init__()
        self.vocab, self.out_dim = list(vocab), out_dim
        self.register_buffer("bank", torch.zeros(bank_size, out_dim))
        self.index = {w: i + 1 for i, w in enumerate(self.vocab)}
        self.embed = nn.Embedding(len(self.vocab) + 1, embed_dim, padding_idx=0)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim)
        )

    def forward(self, ids: Tensor) -> Tensor:
        """Word ids (N, L), 0-padded -> phi(t) (N, E) of unit length."""
        known = (ids > 0).float().unsqueeze(2)  # (N, L, 1)
        mean = (self.embed(ids) * known).sum(1) / known.sum(1).clamp(min=1)  # (N, embed_dim)
        return F.normalize(self.mlp(mean), dim=1)


class Compress(nn.Module):
    """Reed et al. Sec. 4.1: phi(t) -> a small dimension by FC + leaky ReLU (slope 0.2).

    phi(t) is unit-length, so its E components are about 1/sqrt(E) each: they are scaled by
    sqrt(E) first, to the scale of z's N(0, 1) components, and the FC keeps PyTorch's default
    initialisation (not DCGAN's N(0, 0.02)). Unscaled, the compressed caption entered G about
    14x and D about 50x weaker than the noise and image features beside it, and a 4000-step
    Fashion-MNIST run named the caption's class in 41% of held-out-caption samples."""

    def __init__(self, text_dim: int, cond_dim: int):
        super().__init__()
        self.fc, self.scale = nn.Linear(text_dim, cond_dim), text_dim**0.5

    def forward(self, text: Tensor) -> Tensor:
        return F.leaky_relu(self.fc(text * self.scale), 0.2)


@NETWORKS.register("text_g")
class TextGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        text_dim: int,  # E, the size of phi(t)
        image_size: int,
        channels: int,
        width: int = 64,  # DCGAN width (ngf)
        cond_dim: int = 128,  # the compressed embedding (Reed et al.: 128)
    ):
        super().__init__()
        self.z_dim, self.text_dim = z_dim, text_dim
        self.compress = Compress(text_dim, cond_dim)
        self.base = DCGANGenerator(z_dim + cond_dim, image_size, channels, width)
        self.out_shape = self.base.out_shape

    def forward(self, z: Tensor, text: Tensor | None = None) -> Tensor:
        if text is None:
            raise ValueError("this generator is text-conditioned: pass text=phi(t) (N, E)")
        return self.base(torch.cat([z, self.compress(text)], 1))  # (N, z + cond) -> images


@NETWORKS.register("text_d")
class TextDiscriminator(nn.Module):
    def __init__(
        self,
        text_dim: int,
        image_size: int,
        channels: int,
        width: int = 64,  # DCGAN width (ndf)
        cond_dim: int = 128,
        norm: str = "batch",  # hidden convs: batch (the paper), layer or none
        spectral_norm: bool = False,
    ):
        super().__init__()
        s0, n = dcgan_levels(image_size)
        self.features = DCGANDiscriminator(image_size, channels, width, norm=norm).features
        ch = width * 2 ** (n - 1)  # the body's channels at s0 x s0
        self.compress = Compress(text_dim, cond_dim)
        self.joint = nn.Sequential(  # 1x1 conv + rectification, then the s0 x s0 score
            nn.Conv2d(ch + cond_dim, ch, 1), nn.LeakyReLU(0.2), nn.Conv2d(ch, 1, s0)
        )
        dcgan_init(self)
        self.compress.fc.reset_parameters()  # see Compress: not DCGAN's N(0, 0.02)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, text: Tensor) -> Tensor:
        """Logits (N,) for the pairs (x, phi(t))."""
        h = self.features(x)  # (N, ch, s0, s0)
        c = self.compress(text)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.joint(torch.cat([h, c], 1)).flatten()
