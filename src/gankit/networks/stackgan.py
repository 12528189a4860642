"""StackGAN's networks (Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis
with Stacked Generative Adversarial Networks", Sec. 3 and Fig. 2), sized for CPUs.

Shapes for Fashion-MNIST (side S = 28; any S with S / 2 = 4 * 2^n or 7 * 2^n works):

* conditioning augmentation (Sec. 3.1): phi_t (E,) -> mu, log sigma^2 (N_g each) by one linear
  layer; c^ = mu + sigma * eps, eps ~ N(0, I) (the reparameterisation trick);
* stage-I G (Sec. 3.2): [z, c^_0] -> linear -> (4w, S/4, S/4) -> up-sampling blocks (nearest
  x2, 3x3 conv, BN, ReLU) -> 3x3 conv, tanh -> (C, S/2, S/2): 14x14;
* stage-I / stage-II D (Sec. 3.2, 3.3): 4x4 stride-2 down-sampling blocks (BN after all but
  the first, LeakyReLU 0.2) to M_d x M_d (3 for 14 and 28); phi_t compressed to N_d by a linear
  layer, replicated to M_d x M_d and concatenated; a 1x1 conv (BN, LeakyReLU) and a linear
  layer to one logit;
* stage-II G (Sec. 3.3): s_0 (C, S/2, S/2) -> 3x3 conv, ReLU -> one 4x4 stride-2 block
  (BN, ReLU) -> (2w, S/4, S/4); c^ (its own CA) replicated and concatenated; 3x3 conv, BN,
  ReLU; residual blocks (3x3 conv, BN, ReLU, 3x3 conv, BN, + input); two up-sampling blocks
  -> 3x3 conv, tanh -> (C, S, S). No z: "the randomness has already been preserved by s_0".

The ``stackgan`` composite is the exported sampler: z = [z_I, eps_0, eps_1] -> stage I ->
stage II (``stages`` returns both images).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.networks.composite import COMPOSITES
from gankit.networks.dcgan import dcgan_levels
from gankit.networks.text_dcgan import Compress
from gankit.nn.init import dcgan_init
from gankit.nn.spectral import apply_spectral_norm


class ConditioningAugmentation(nn.Module):
    """Sec. 3.1: c^ ~ N(mu(phi_t), diag sigma^2(phi_t)), with mu and log sigma^2 from one linear
    layer. ``augment=False`` is the ablation without CA: c^ = mu(phi_t), deterministic, the
    plain (linearly compressed) text conditioning of Reed et al. 2016.

    gankit's phi_t is unit-length: it is scaled by sqrt(E) to unit-scale components first,
    and the layer keeps PyTorch's default initialisation (:meth:`reset`, called after the
    generators' DCGAN init), as gankit.networks.text_dcgan.Compress does and for its reason."""

    def __init__(self, text_dim: int, c_dim: int, augment: bool = True):
        super().__init__()
        self.c_dim, self.augment, self.scale = c_dim, augment, text_dim**0.5
        self.fc = nn.Linear(text_dim, 2 * c_dim if augment else c_dim)

    def reset(self) -> None:
        self.fc.reset_parameters()

    def forward(self, text: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(c^, mu, log sigma^2), each (N, N_g); eps (N, N_g) ~ N(0, I) is given by the caller
        (the run's saved noise stream), drawn here only when omitted."""
        out = self.fc(text * self.scale)
        if not self.augment:
            return out, out, torch.zeros_like(out)
        mu, logvar = out.chunk(2, 1)
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + torch.exp(0.5 * logvar) * eps, mu, logvar


def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """D_KL(N(mu, diag sigma^2) || N(0, I)) of Eq. 3 and 5, summed over the N_g dimensions and
    averaged over the batch: 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1).mean()


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    """An up-sampling block (Sec. 3.4): nearest-neighbour x2, 3x3 stride-1 conv, BN, ReLU."""
    return [
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(True),
    ]


def _replicate(v: Tensor, side: int) -> Tensor:
    """(N, K) -> (N, K, side, side): a vector spatially replicated (Sec. 3.2)."""
    return v[:, :, None, None].expand(-1, -1, side, side)


@NETWORKS.register("stackgan_g1")
class StageIGenerator(nn.Module):
    def __init__(
        self,
        noise_dim: int,  # N_z, the length of z (not of the whole sampler's input)
        text_dim: int,  # E, the length of phi_t
        image_size: int,  # S / 2: stage I's side (14 for Fashion-MNIST)
        channels: int,
        c_dim: int = 16,  # N_g, the conditioning vector c^_0 (128 in the paper)
        width: int = 32,  # w; the first feature map has 4w channels (the paper's N_gf / 8 ...)
        augment: bool = True,  # conditioning augmentation on; off: c^_0 = mu(phi_t)
    ):
        super().__init__()
        s0, n = dcgan_levels(image_size)  # s0 in {4, 7}, image_size = s0 * 2^n
        self.noise_dim, self.c_dim, self.s0 = noise_dim, c_dim, s0
        self.out_shape = (channels, image_size, image_size)
        self.ca = ConditioningAugmentation(text_dim, c_dim, augment)
        ch = [max(4, width * 4 // 2**i) for i in range(n + 1)]  # halving as the side doubles
        self.fc = nn.Sequential(
            nn.Linear(noise_dim + c_dim, ch[0] * s0 * s0, bias=False),
            nn.BatchNorm1d(ch[0] * s0 * s0),
            nn.ReLU(True),
        )
        body = [m for i in range(n) for m in _up(ch[i], ch[i + 1])]
        self.body = nn.Sequential(*body, nn.Conv2d(ch[n], channels, 3, 1, 1), nn.Tanh())
        dcgan_init(self)
        self.ca.reset()

    def forward(
        self, z: Tensor, text: Tensor, eps: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(s_0 (N, C, S/2, S/2), mu_0, log sigma_0^2)."""
        c, mu, logvar = self.ca(text, eps)
        h = self.fc(torch.cat([z, c], 1)).view(len(z), -1, self.s0, self.s0)
        return self.body(h), mu, logvar


class _Residual(nn.Module):
    """3x3 conv, BN, ReLU, 3x3 conv, BN, plus the input, then ReLU (Sec. 3.4)."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


@NETWORKS.register("stackgan_g2")
class StageIIGenerator(nn.Module):
    def __init__(
        self,
        text_dim: int,
        image_size: int,  # S, the final side (28); stage I's images are S / 2
        channels: int,
        c_dim: int = 16,  # N_g of stage II's own CA
        width: int = 32,  # w: the encoder ends at 2w channels
        res_blocks: int = 2,  # residual blocks (2 in the paper's 128x128 model, 4 at 256x256)
        augment: bool = True,
    ):
        super().__init__()
        if image_size % 4:
            raise ConfigError(f"stackgan needs an image side divisible by 4, got {image_size}.")
        self.c_dim, self.side = c_dim, image_size // 4  # M_g, where text and image meet
        self.ca = ConditioningAugmentation(text_dim, c_dim, augment)
        self.encode = nn.Sequential(  # (C, S/2, S/2) -> (2w, S/4, S/4)
            nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
            nn.ReLU(True),
        )  # fmt: skip
        self.joint = nn.Sequential(
            nn.Conv2d(2 * width + c_dim, 2 * width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(True),
            *[_Residual(2 * width) for _ in range(res_blocks)],
        )
        self.decode = nn.Sequential(  # (2w, S/4, S/4) -> (C, S, S)
            *_up(2 * width, width), *_up(width, width),
            nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh(),
        )  # fmt: skip
        dcgan_init(self)
        self.ca.reset()

    def forward(
        self, s0: Tensor, text: Tensor, eps: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(the image (N, C, S, S), mu, log sigma^2) refined from stage I's ``s0``."""
        c, mu, logvar = self.ca(text, eps)
        h = torch.cat([self.encode(s0), _replicate(c, self.side)], 1)
        return self.decode(self.joint(h)), mu, logvar


@NETWORKS.register("stackgan_d")
class TextDiscriminator(nn.Module):
    """D(I, phi_t) of either stage (Sec. 3.2): image down to M_d x M_d, phi_t compressed to
    N_d and replicated there, a 1x1 conv over both and a linear layer to one logit."""

    def __init__(
        self,
        text_dim: int,
        image_size: int,
        channels: int,
        width: int = 32,  # channels of the first down-sampling block, doubling after
        text_code: int = 16,  # N_d, the compressed phi_t (128 in the paper)
        spectral_norm: bool = False,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c, s, i = channels, image_size, 0
        while s > 4:  # 4x4 stride-2 blocks down to M_d <= 4 (the paper's M_d = 4)
            out = width * 2**i
            layers.append(nn.Conv2d(c, out, 4, 2, 1, bias=i == 0))  # BN follows the rest
            layers += ([nn.BatchNorm2d(out)] if i > 0 else []) + [nn.LeakyReLU(0.2, True)]
            c, s, i = out, (s + 2 - 4) // 2 + 1, i + 1
        self.image = nn.Sequential(*layers)
        self.side = s
        self.text = Compress(text_dim, text_code)  # phi_t scaled by sqrt(E), FC, leaky ReLU
        self.joint = nn.Sequential(
            nn.Conv2d(c + text_code, c, 1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2, True)
        )
        self.head = nn.Linear(c * s * s, 1)
        dcgan_init(self)
        self.text.fc.reset_parameters()  # PyTorch's init, not DCGAN's N(0, 0.02): see Compress
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, image: Tensor, text: Tensor) -> Tensor:
        h = torch.cat([self.image(image), _replicate(self.text(text), self.side)], 1)
        return self.head(self.joint(h).flatten(1)).view(len(image))  # (N,) logits


class StackGANSampler(nn.Module):
    """Both stages as one sampler (Sec. 3): z = [z_I (N_z), eps_0 (N_g), eps_1 (N_g)],
    s_0 = G_0(z_I, c^_0(phi_t, eps_0)), image = G(s_0, c^(phi_t, eps_1)). Every epsilon is a
    slice of the run's noise, so that a seeded sample is reproducible (the run's prior is
    N(0, I), as the reparameterisation needs)."""

    def __init__(self, stage1: nn.Module, stage2: nn.Module):
        super().__init__()
        self.stage1, self.stage2 = stage1, stage2

    @property
    def z_dim(self) -> int:
        return self.stage1.noise_dim + self.stage1.c_dim + self.stage2.c_dim

    def split(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(z_I, eps_0, eps_1) of the sampler's noise."""
        return z.split([self.stage1.noise_dim, self.stage1.c_dim, self.stage2.c_dim], 1)

    def stages(self, z: Tensor, text: Tensor) -> tuple[Tensor, Tensor]:
        """(stage I's s_0 (N, C, S/2, S/2), stage II's image (N, C, S, S))."""
        z1, eps0, eps1 = self.split(z)
        s0 = self.stage1(z1, text, eps0)[0]
        return s0, self.stage2(s0, text, eps1)[0]

    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        return self.stages(z, text)[1]


COMPOSITES.register("stackgan")(StackGANSampler)
