"""The joint discriminator D(x, z) of BiGAN and ALI on images.

D judges a pair: an image x with a code z, either (x, E(x)) or (G(z), z) (Donahue et al.
2016, "Adversarial Feature Learning", Sec. 3; Dumoulin et al. 2016, "Adversarially Learned
Inference", Sec. 2). Both papers build it from three parts (BiGAN Sec. 4; ALI Appendix A,
Tables 3-5: D(x), D(z) and D(x, z)):

* a conv trunk on x, laid out like the DCGAN discriminator's (Radford et al. 2015, Sec. 3:
  strided 4x4 convolutions, LeakyReLU(0.2), N(0, 0.02) init), flattened;
* a small MLP on z;
* a joint MLP on the concatenation of the two, giving one logit.

As in ALI's discriminators (Appendix A), every layer sees its input through dropout (0.2
there) and D has no BatchNorm: each pair is judged on its own, not against the statistics
of the batch of pairs it came in. Dropout draws from torch's global generator, which the
training loop saves in every checkpoint (CPU), so a resumed run continues exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.networks.base import NETWORKS
from gankit.networks.dcgan import dcgan_levels
from gankit.nn.init import dcgan_init
from gankit.nn.minibatch_disc import MinibatchDiscrimination
from gankit.nn.pack import pack as pack_samples
from gankit.nn.spectral import apply_spectral_norm


def _block(layer: nn.Module, dropout: float) -> list[nn.Module]:
    """Dropout on the input, the layer, LeakyReLU(0.2): one layer of ALI's D."""
    return [nn.Dropout(dropout), layer, nn.LeakyReLU(0.2)]


@NETWORKS.register("conv_xz_d")
class ConvJointDiscriminator(nn.Module):
    """(x (N, C, S, S), z (N, z_dim)) -> (N / pack,) logits."""

    def __init__(
        self,
        image_size: int,
        channels: int,
        z_dim: int,
        width: int = 64,  # channels of the first conv; doubled at each halving of the side
        hidden: int | None = None,  # width of the z MLP; the joint MLP is twice it (8 * width)
        dropout: float = 0.2,  # ALI, Appendix A
        pack: int = 1,  # PacGAN degree m: one decision per m pairs (Lin et al. 2018)
        minibatch_disc: bool = False,  # Salimans et al. 2016, Sec. 3.2, before the logit
        mbd_kernels: int = 50,  # B of minibatch discrimination
        mbd_dims: int = 5,  # C of minibatch discrimination
        spectral_norm: bool = False,  # Miyato et al. 2018, on every conv / linear weight
    ):
        super().__init__()
        s0, n = dcgan_levels(image_size)
        self.pack = pack
        hidden = hidden or 8 * width
        ch, x_layers = width, _block(nn.Conv2d(channels * pack, width, 4, 2, 1), dropout)
        for _ in range(n - 1):
            x_layers += _block(nn.Conv2d(ch, ch * 2, 4, 2, 1), dropout)  # halves H and W
            ch *= 2
        self.x_path = nn.Sequential(*x_layers, nn.Flatten())  # (N, ch * s0 * s0)
        self.z_path = nn.Sequential(
            *_block(nn.Linear(z_dim * pack, hidden), dropout),
            *_block(nn.Linear(hidden, hidden), dropout),
        )
        joint = 2 * hidden
        self.joint = nn.Sequential(*_block(nn.Linear(ch * s0 * s0 + hidden, joint), dropout))
        head: list[nn.Module] = [nn.Dropout(dropout), nn.Linear(joint, 1)]
        if minibatch_disc:
            head = [
                MinibatchDiscrimination(joint, mbd_kernels, mbd_dims),
                nn.Dropout(dropout),
                nn.Linear(joint + mbd_kernels, 1),
            ]
        self.head = nn.Sequential(*head)
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        # m consecutive pairs packed: images along channels, codes along features
        hx = self.x_path(pack_samples(x, self.pack))
        hz = self.z_path(pack_samples(z.flatten(1), self.pack))
        return self.head(self.joint(torch.cat([hx, hz], dim=1))).flatten()
