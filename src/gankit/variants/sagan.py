"""Zhang, Goodfellow, Metaxas & Odena 2018, "Self-Attention Generative Adversarial Networks"
(SAGAN).

Convolutions see a local neighbourhood, so a convolutional GAN models long-range structure
only through many layers. SAGAN adds self-attention blocks (gankit.nn.attention, Sec. 3) to
G and D, whose learnable gamma starts at 0. Its training recipe (Sec. 4-5):

- spectral normalisation in both G and D (Sec. 4.1);
- the hinge loss: L_D = E[max(0, 1 - D(x, y))] + E[max(0, 1 + D(G(z), y))],
  L_G = -E[D(G(z), y)] (Eq. 4; presets set train.loss=hinge);
- two time-scale update rule: lr_D = 4e-4, lr_G = 1e-4, Adam beta1 = 0, beta2 = 0.9
  (Sec. 4.2, Sec. 5);
- class-conditional: conditional batch norm in G, the projection discriminator (Sec. 5).

The networks are residual (gankit.networks.sagan) or, with ``options.backbone=dcgan`` (the
CPU presets), Radford et al.'s layers with the same attention, CBN, projection and SN: residual
blocks at full resolution cost about ten times DCGAN's FLOPs per image, and the DCGAN layout
compares SAGAN's ideas with gankit's DCGAN at equal CPU time. Every attention block's gamma
is recorded in stats.jsonl as ``attn_gamma/G`` and ``attn_gamma/D`` and drawn in the run's
loss plot.
``options.attention_res=0`` removes the attention blocks (the paper's "no attention" ablation,
Table 1); -1 (the default) attends at half the image side (14 for 28 px; the paper's
middle-to-high-level feature maps). The game itself (k steps, tricks, EMA) is GAN's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.networks.conditional import LatentLayout
from gankit.presets import register_preset
from gankit.variants.base import VARIANTS, StepContext, square_images
from gankit.variants.cgan import CGAN


@VARIANT_OPTIONS.register("sagan")
@dataclass
class SAGANOptions:
    conditional: bool = True  # class-conditional (CBN in G, projection D); needs labels
    attention_res: int = -1  # side of the attended feature maps; -1: half the image; 0: none
    g_spectral_norm: bool = True  # SN in G too (Sec. 4.1); D always has it
    backbone: str = "resnet"  # residual blocks (the paper's) or "dcgan" layers (CPU presets)

    def validate(self) -> None:
        if self.attention_res < -1:
            raise ConfigError(
                f"options.attention_res={self.attention_res}: give a feature-map side, "
                "0 (no attention) or -1 (half the image side)."
            )
        if self.backbone not in ("resnet", "dcgan"):
            raise ConfigError(f"options.backbone={self.backbone!r}; valid: resnet, dcgan.")


def _unwrapped(net: nn.Module) -> nn.Module:
    return getattr(net, "module", net)  # DistributedDataParallel keeps the network in .module


@VARIANTS.register("sagan")
class SAGAN(CGAN):
    name = "sagan"

    def layout(self, cfg: Config, data: Any) -> LatentLayout:
        if cfg.options.conditional:
            return super().layout(cfg, data)  # refuses data without labels
        return LatentLayout(cfg.model.z_dim)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        channels, side = square_images(
            data, "sagan", "Use fashion-mnist, digits or an image folder."
        )
        m, o = cfg.model, cfg.options
        self.conditional = bool(o.conditional)  # `gankit sample --label` where conditional
        self.latent = self.layout(cfg, data)
        at = side // 2 if o.attention_res == -1 else o.attention_res
        both = {"image_size": side, "channels": channels, "attention_res": at}
        both["backbone"] = o.backbone
        both["num_classes"] = self.latent.num_classes
        G = build_network(
            "sagan_g", z_dim=m.z_dim, width=m.g_channels, spectral_norm=o.g_spectral_norm, **both
        )
        D = build_network("sagan_d", width=m.d_channels, spectral_norm=True, **both)
        return {"G": G, "D": D}

    def fake_batch(self, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, Any]:
        for key in ("G", "D"):  # gamma of each attention block, for stats.jsonl
            gammas = _unwrapped(nets[key]).attention_gammas()
            for i, gamma in enumerate(gammas):  # attn_gamma/G, or G0, G1, ... for several
                name = key if len(gammas) == 1 else f"{key}{i}"
                ctx.log(f"attn_gamma/{name}", gamma.detach())
        if not self.latent.num_classes:
            return nets["G"](ctx.sample_z(ctx.batch_size)), None
        return super().fake_batch(nets, ctx)

    def d_logits(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"](x, cond if self.latent.num_classes else None)

    def d_features(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"].features(x)


SAGAN_RECIPE = {
    "train.variant": "sagan",
    "train.loss": "hinge",  # Eq. 4
    "train.lr_d": 4e-4,  # TTUR (Sec. 4.2)
    "train.lr_g": 1e-4,
    "train.beta1": 0.0,
    "train.beta2": 0.9,
}
register_preset(
    "sagan-fashion",
    "SAGAN on Fashion-MNIST: class-conditional, self-attention at 14x14 in G and D, SN, hinge, "
    "TTUR",
    {
        **SAGAN_RECIPE,
        "data.name": "fashion-mnist",
        "options.backbone": "dcgan",  # see the module docstring
        "model.z_dim": 64,
        "model.g_channels": 32,
        "model.d_channels": 32,
        "train.batch_size": 32,
        "train.steps": 4000,
        # 0.999 averages over a quarter of this short run; at 2000 steps (seed 0) 0.995 gave
        # domain FID 25.7 against 30.3 (docs/architectures.md)
        "train.ema": 0.995,
        "log.n_fixed": 100,
        "log.sample_every": 0,
        "log.checkpoint_every": 1000,
    },
)
register_preset(
    "sagan-folder",
    "SAGAN on your own RGB images (data.root=DIR, resized to 32 px), unconditional; "
    "set options.conditional=true with one subfolder per class",
    {
        **SAGAN_RECIPE,
        "data.name": "folder",
        "data.image_size": 32,
        "data.channels": 3,
        "options.conditional": False,
        "options.backbone": "dcgan",
        "model.z_dim": 128,
        "model.g_channels": 32,
        "model.d_channels": 32,
        "train.batch_size": 32,
        "train.steps": 5000,
        "train.ema": 0.999,
        "log.n_fixed": 64,
        "log.sample_every": 0,
        "log.checkpoint_every": 1000,
    },
)
