"""SAGAN's generator and discriminator (Zhang et al. 2018, "Self-Attention Generative
Adversarial Networks", Sec. 4-5 and the authors' released architecture).

Both are residual networks in the style of Miyato et al. 2018 / Miyato & Koyama 2018, which
SAGAN builds on, with a self-attention block (gankit.nn.attention) after the residual block
that reaches side ``attention_res``:

* G: z -> linear -> (ch, s0, s0) -> n up-blocks [CBN-ReLU-upsample x2-conv3-CBN-ReLU-conv3,
  shortcut upsample-conv1] halving the channels -> BN-ReLU-conv3-tanh. CBN is conditional
  batch norm on the class (gankit.nn.cond_bn) or plain BatchNorm when unconditional.
* D: n down-blocks [ReLU-conv3-ReLU-conv3-avgpool 2x2, shortcut conv1-avgpool; the first
  block without its leading ReLU] doubling the channels -> ReLU -> sum over positions ->
  phi(x); logit = psi(phi(x)) + embed(y)^T phi(x), the projection discriminator of Miyato &
  Koyama 2018, Eq. 3, when conditional.

``backbone="dcgan"`` swaps the residual blocks for Radford et al.'s layers (transposed 4x4
stride-2 convolutions with CBN in G; strided 4x4 convolutions with LeakyReLU and no BatchNorm
in D), keeping attention, CBN, projection and SN: residual blocks at full resolution cost
about ten times the FLOPs of dcgan_g / dcgan_d per image (measured with
benchmarks/throughput.py --variants), too many for a 15-minute CPU preset, and the DCGAN
layout isolates what SAGAN's own ideas add to gankit's DCGAN.

Spectral normalisation (Miyato et al. 2018) on every weight of D and, as SAGAN does (Sec. 4,
"spectral normalization for both generator and discriminator"), of G. Image side S = s0 2^n
with s0 in {4, 7} (gankit.networks.dcgan.dcgan_levels): 28 px has blocks at 14 and 28 in G
and 14 and 7 in D; attention at 14 there is SAGAN's "middle-to-high level feature maps".
Nearest upsampling, as the reference code's.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.networks.dcgan import dcgan_levels
from gankit.nn.attention import SelfAttention2d
from gankit.nn.cond_bn import ConditionalBatchNorm2d
from gankit.nn.spectral import apply_spectral_norm


def _attention_at(sides: list[int], attention_res: int, who: str) -> int | None:
    """Index into ``sides`` (the block outputs' sides) after which attention goes."""
    if attention_res == 0:
        return None
    if attention_res not in sides:
        raise ConfigError(
            f"options.attention_res={attention_res}: the {who} has feature maps of side "
            f"{', '.join(map(str, sorted(set(sides))))}; pick one of those (0 = no attention)."
        )
    return sides.index(attention_res)


BACKBONES = ("resnet", "dcgan")


def _check_backbone(backbone: str) -> str:
    if backbone not in BACKBONES:
        raise ConfigError(f"options.backbone={backbone!r}; valid: {', '.join(BACKBONES)}.")
    return backbone


class _DCGANUp(nn.Module):
    """ConvTranspose 4x4 stride 2 (doubles the side) -> CBN -> ReLU, as dcgan_g's layers."""

    def __init__(self, c_in: int, c_out: int, num_classes: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)
        self.bn = ConditionalBatchNorm2d(c_out, num_classes)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        return F.relu(self.bn(self.conv(x), y))


class _UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, num_classes: int):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, num_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2 = ConditionalBatchNorm2d(c_out, num_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2.0)  # (B, c_in, 2H, 2W)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0))


class _DownBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, first: bool):
        super().__init__()
        self.first = first  # the input layer sees images, not ReLU features
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)  # (B, c_out, H/2, W/2)
        if self.first:  # pool first: the same map, a cheaper 1x1 conv
            return h + self.skip(F.avg_pool2d(x, 2))
        return h + F.avg_pool2d(self.skip(x), 2)


@NETWORKS.register("sagan_g")
class SAGANGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        image_size: int,
        channels: int,
        width: int = 32,  # channels of the last block; doubling towards the lowest resolution
        num_classes: int = 0,  # > 0: class-conditional batch norm (Zhang et al. 2018, Sec. 5)
        attention_res: int = 0,  # side of the feature map to attend over; 0: no attention
        spectral_norm: bool = True,  # SN in G as well (ibid., Sec. 4)
        backbone: str = "resnet",  # "resnet" (SAGAN's) or "dcgan" (Radford's layers)
    ):
        super().__init__()
        s0, n = dcgan_levels(image_size)
        self.z_dim, self.s0, self.num_classes = z_dim, s0, num_classes
        self.out_shape = (channels, image_size, image_size)
        self.backbone = _check_backbone(backbone)
        ch = width * 2 ** (n - 1)
        self.ch0 = ch
        blocks: list[nn.Module] = []
        outs, sides = [ch], [s0]
        if backbone == "resnet":
            self.project = nn.Linear(z_dim, ch * s0 * s0)
            for _ in range(n):  # channels halve with each doubling of the side, to width
                blocks.append(_UpBlock(ch, max(ch // 2, width), num_classes))
                ch = max(ch // 2, width)
                outs.append(ch)
                sides.append(sides[-1] * 2)
            self.out = nn.Sequential(
                nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()
            )
        else:  # (N, z, 1, 1) -> (N, ch, s0, s0), then transposed convs as dcgan_g
            self.project = nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=False)
            self.bn0 = ConditionalBatchNorm2d(ch, num_classes)
            for _ in range(n - 1):
                blocks.append(_DCGANUp(ch, ch // 2, num_classes))
                ch //= 2
                outs.append(ch)
                sides.append(sides[-1] * 2)
            self.out = nn.Sequential(nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh())
        self.blocks = nn.ModuleList(blocks)
        self.attn_after = _attention_at(sides, attention_res, "generator")
        self.attention = None if self.attn_after is None else SelfAttention2d(
            outs[self.attn_after]
        )  # fmt: skip
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(
        self,
        z: Tensor,
        y: Tensor | None = None,
        c: Tensor | None = None,
        y_code: Tensor | None = None,
    ) -> Tensor:
        if c is not None or y_code is not None:
            raise ValueError("the SAGAN generator takes z and a class label y only")
        if self.num_classes and y is None:
            raise ValueError("this generator is conditional: pass labels y")
        if self.backbone == "resnet":
            h = self.project(z).view(len(z), self.ch0, self.s0, self.s0)
        else:
            h = F.relu(self.bn0(self.project(z.view(len(z), -1, 1, 1)), y))
        for i, block in enumerate([None, *self.blocks]):
            if block is not None:
                h = block(h, y)
            if i == self.attn_after:
                h = self.attention(h)
        return self.out(h)

    def attention_gammas(self) -> list[Tensor]:
        """gamma of each attention block, input side first."""
        return [] if self.attention is None else [self.attention.gamma]


@NETWORKS.register("sagan_d")
class SAGANDiscriminator(nn.Module):
    def __init__(
        self,
        image_size: int,
        channels: int,
        width: int = 32,  # channels of the first block, doubling at each halving
        num_classes: int = 0,  # > 0: the projection head (Miyato & Koyama 2018, Eq. 3)
        attention_res: int = 0,
        spectral_norm: bool = True,
        backbone: str = "resnet",  # "resnet" (SAGAN's) or "dcgan" (Radford's strided convs)
    ):
        super().__init__()
        _, n = dcgan_levels(image_size)
        self.backbone = _check_backbone(backbone)
        blocks: list[nn.Module] = []
        outs, sides, ch, c_in = [channels], [image_size], width, channels
        for i in range(n):
            if backbone == "resnet":
                blocks.append(_DownBlock(c_in, ch, first=i == 0))
            else:  # conv 4x4 stride 2 + LeakyReLU(0.2); SN instead of BatchNorm (SAGAN's D)
                blocks.append(nn.Sequential(nn.Conv2d(c_in, ch, 4, 2, 1), nn.LeakyReLU(0.2)))
            outs.append(ch)
            sides.append(image_size // 2 ** (i + 1))
            c_in, ch = ch, ch * 2
        self.blocks = nn.ModuleList(blocks)
        self.feat_dim = c_in
        self.attn_after = _attention_at(sides, attention_res, "discriminator")
        self.attention = None if self.attn_after is None else SelfAttention2d(
            outs[self.attn_after]
        )  # fmt: skip
        self.psi = nn.Linear(c_in, 1)
        self.embed = nn.Embedding(num_classes, c_in) if num_classes else None  # V
        if spectral_norm:
            apply_spectral_norm(self)
            if self.embed is not None:  # as in the released SAGAN / BigGAN code
                nn.utils.parametrizations.spectral_norm(self.embed)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """phi(x): the trunk (residual: then ReLU), summed over positions, (B, F)."""
        h = x
        for i, block in enumerate([None, *self.blocks]):
            if block is not None:
                h = block(h)
            if i == self.attn_after:
                h = self.attention(h)
        if self.backbone == "resnet":  # residual sums end un-activated
            h = F.relu(h)
        return h.sum(dim=(2, 3))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        phi = self.features(x)
        logits = self.psi(phi).flatten()
        if self.embed is not None:
            if y is None:
                raise ValueError("the projection discriminator needs labels y")
            logits = logits + (self.embed(y) * phi).sum(1)  # + y^T V phi(x)
        return logits

    def attention_gammas(self) -> list[Tensor]:
        """gamma of each attention block, input side first."""
        return [] if self.attention is None else [self.attention.gamma]
