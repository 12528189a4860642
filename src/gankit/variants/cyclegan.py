"""Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks" (CycleGAN).

Two translators G_AB: A -> B and G_BA: B -> A and two discriminators, D_B judging B against
G_AB(a) and D_A judging A against G_BA(b), trained on unpaired samples of the two domains
(the dataset's fields ``a`` and ``b``, drawn independently). The full objective (Eq. 3):

    L = L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A) + lambda L_cyc(G_AB, G_BA),
    L_cyc = E_a ||G_BA(G_AB(a)) - a||_1 + E_b ||G_AB(G_BA(b)) - b||_1          (Eq. 2)

with the least-squares GAN loss (Sec. 4, "Training details"; train.loss=lsgan in the presets)
and lambda = 10 (``options.lambda_cycle``). The identity term of Sec. 5.2,
E_b ||G_AB(b) - b||_1 + E_a ||G_BA(a) - a||_1, needs both domains in one space
(``options.lambda_identity``): 0.5 lambda on images, as the paper for photo <-> painting, and
off for 2-D points. Each discriminator gets its own tricks.AdversarialTerms (instance noise,
label smoothing, ...).

On images (Sec. 4 and Appendix 7): G is the ResNet generator of Johnson et al. 2016
(networks/resnet_gen.py, ``options.n_blocks``, width model.g_channels), D a PatchGAN with
instance norm (networks/patchgan.py, ``options.d_layers``, width model.d_channels) whose
every patch output is one real/fake decision, and each D is updated from a buffer of 50 past
translations (Shrivastava et al. 2017; ``options.pool_size``, _image_pool.py), saved in every
checkpoint. The paper halves D's objective to slow D down; under Adam a constant factor on a
loss leaves the update unchanged (up to eps), so it is left out. Its schedule, constant lr
then linear decay to 0 over the second half, is train.lr_decay=0.5.

Exports ``apply`` (G_AB), ``apply_ba`` (G_BA) and ``cycle_a``, the round trip G_BA(G_AB(a))
as a registered composite (gankit.networks.composite); there is no noise sampler. Image
exports take any H, W that are multiples of 4 and at least 8 (fully convolutional).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config
from gankit.data import load_dataset
from gankit.errors import ConfigError, GankitError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.networks.resnet_gen import MIN_SIZE, MULTIPLE_OF
from gankit.nn.modes import evaluating
from gankit.presets import TOY, register_preset
from gankit.variants._image_pool import ImagePool
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

IMAGE_POOL = 50  # Zhu et al. 2017, Sec. 4: a buffer of the 50 previously generated images
PREVIEW_IMAGES = 8  # fixed images per row of the image preview


@VARIANT_OPTIONS.register("cyclegan")
@dataclass
class CycleGANOptions:
    lambda_cycle: float = 10.0  # lambda of L_cyc (Eq. 3)
    # weight of the identity term (Sec. 5.2); None: 0.5 lambda_cycle on images with as many
    # channels in A as in B, 0 otherwise (2-D points)
    lambda_identity: float | None = None
    pool_size: int | None = None  # past translations D sees; None: 50 on images, 0 on points
    n_blocks: int = 9  # residual blocks of the ResNet G (Appendix 7.2: 6 or 9)
    d_layers: int = 3  # stride-2 layers of the PatchGAN: 3 -> 70x70 patches (Sec. 4)

    def validate(self) -> None:
        if self.lambda_cycle < 0 or (self.lambda_identity or 0) < 0:
            raise ConfigError("options.lambda_cycle and options.lambda_identity must be >= 0.")
        if (self.pool_size or 0) < 0 or self.n_blocks < 0 or self.d_layers < 1:
            raise ConfigError(
                "options.pool_size and options.n_blocks must be >= 0 and options.d_layers >= 1 "
                "(e.g. pool_size=50, n_blocks=9, d_layers=3)."
            )


def cycle_loss(a: Tensor, a_cycled: Tensor, b: Tensor, b_cycled: Tensor) -> Tensor:
    """L_cyc of Eq. 2: mean absolute error of both round trips (each an L1 mean)."""
    return (a_cycled - a).abs().mean() + (b_cycled - b).abs().mean()


def identity_loss(a: Tensor, g_ba_a: Tensor, b: Tensor, g_ab_b: Tensor) -> Tensor:
    """The identity term of Sec. 5.2: E ||G_AB(b) - b||_1 + E ||G_BA(a) - a||_1."""
    return (g_ab_b - b).abs().mean() + (g_ba_a - a).abs().mean()


def domain_b(data: Any) -> Tensor:
    return data.unpaired.get("b", data.fields.get("b"))


@VARIANTS.register("cyclegan")
class CycleGAN(Variant):
    name = "cyclegan"
    ema_modules = ("G_AB", "G_BA")
    applies = "translate A -> B (apply), B -> A (--export apply_ba), A -> B -> A (cycle_a)"

    def __init__(self) -> None:
        self.pools: dict[str, ImagePool] = {}  # made in phases(); trick state like history
        self._fixed: tuple[Tensor, Tensor] | None = None  # the preview's test images
        self.images = False  # build() sets: image domains, and each domain's item shape
        self.shapes: dict[str, tuple[int, ...]] = {}

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        if "b" not in data.unpaired and "b" not in data.fields:
            raise ConfigError(
                f"cyclegan needs two domains (fields a and b); dataset {data.name!r} has "
                f"{', '.join(data.field_names)}. Use data.name=ring-grid, sneaker-boot or "
                "unpaired-folder."
            )
        self.images = data.kind == "image"
        self.shapes = {"a": tuple(data.shape), "b": tuple(domain_b(data).shape[1:])}
        if self.images:
            return self._image_networks(cfg, data)
        m, (dim,) = cfg.model, data.shape
        size = {"hidden": m.hidden, "layers": m.layers}
        translator = {"in_dim": dim, "out_dim": dim, **size}
        judge = {"in_shape": [dim], **size, **tricks.discriminator_options(cfg)}
        return {
            "G_AB": build_network("mlp", **translator),
            "G_BA": build_network("mlp", **translator),
            "D_A": build_network("mlp_d", **judge),
            "D_B": build_network("mlp_d", **judge),
        }

    def _image_networks(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        """ResNet translators and PatchGAN judges (Sec. 4, Appendix 7.2)."""
        (ca, *hw_a), (cb, *hw_b) = self.shapes["a"], self.shapes["b"]
        for side in (*hw_a, *hw_b):
            if side % MULTIPLE_OF or side < MIN_SIZE:
                raise ConfigError(
                    f"cyclegan's ResNet generator needs image sides that are multiples of "
                    f"{MULTIPLE_OF} and at least {MIN_SIZE}, got A {hw_a} and B {hw_b}; set "
                    "data.image_size (e.g. 64)."
                )
        if hw_a != hw_b:
            raise ConfigError(
                f"cyclegan needs A and B images of one size, got {hw_a} and {hw_b}; set "
                "data.image_size."
            )
        o, m = cfg.options, cfg.model
        if min(*hw_a, *hw_b) < 3 * 2**o.d_layers:  # PatchGAN's smallest input (patchgan.py)
            raise ConfigError(
                f"options.d_layers={o.d_layers} needs images of at least {3 * 2**o.d_layers} "
                f"pixels a side, got {hw_a}; lower options.d_layers or raise data.image_size."
            )
        if (o.lambda_identity or 0) > 0 and ca != cb:
            raise ConfigError(
                f"options.lambda_identity needs as many channels in A as in B ({ca} vs {cb}); "
                "set options.lambda_identity=0 or data.channels."
            )

        def translator(c_in: int, c_out: int) -> nn.Module:
            return build_network(
                "resnet_g", in_channels=c_in, out_channels=c_out, width=m.g_channels,
                n_blocks=o.n_blocks,
            )  # fmt: skip

        spectral = {"spectral_norm": True} if cfg.tricks.spectral_norm else {}

        def judge(c: int) -> nn.Module:
            return build_network(
                "patchgan", in_channels=c, width=m.d_channels, n_layers=o.d_layers,
                norm="instance", **spectral,
            )  # fmt: skip

        return {
            "G_AB": translator(ca, cb),
            "G_BA": translator(cb, ca),
            "D_A": judge(ca),
            "D_B": judge(cb),
        }

    def weights(self, cfg: Config) -> tuple[float, int]:
        """(identity weight, pool size) with the image / point defaults filled in."""
        o, images = cfg.options, self.images
        same_space = images and self.shapes["a"][0] == self.shapes["b"][0]
        identity = o.lambda_identity
        if identity is None:
            identity = 0.5 * o.lambda_cycle if same_space else 0.0
        pool = o.pool_size if o.pool_size is not None else (IMAGE_POOL if images else 0)
        return identity, pool

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o = cfg.train, cfg.options
        for d in ("D_A", "D_B"):
            tricks.check_tricks(cfg, nets[d], None, names=(d, "G_AB"))
        self.history = tricks.history_from(cfg)
        adv_a = tricks.AdversarialTerms.from_config(cfg, self.history, prefix="_A")
        adv_b = tricks.AdversarialTerms.from_config(cfg, self.history, prefix="_B")
        G_AB, G_BA, D_A, D_B = (nets[k] for k in ("G_AB", "G_BA", "D_A", "D_B"))
        lambda_identity, pool_size = self.weights(cfg)
        # D_B judges fake B's: its pool holds past G_AB(a); D_A's past G_BA(b)
        self.pools = {
            "fake_b": ImagePool(pool_size, self.shapes.get("b")),
            "fake_a": ImagePool(pool_size, self.shapes.get("a")),
        }

        def judge(D: nn.Module, x: Tensor) -> Tensor:
            # a PatchGAN's (N, 1, h, w): each patch one decision for the loss and the tricks
            return D(x).reshape(-1)

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            a, b = ctx["a"], ctx["b"]
            with torch.no_grad():
                fake_b, fake_a = G_AB(a), G_BA(b)
            terms = {}
            for adv, D, name, real, fake in (
                (adv_b, D_B, "D_B", b, self.pools["fake_b"].query(fake_b, ctx.rng)),
                (adv_a, D_A, "D_A", a, self.pools["fake_a"].query(fake_a, ctx.rng)),
            ):
                real_in, fake_in = adv.noisy(real, ctx), adv.noisy(fake, ctx)
                real_logits, fake_logits = judge(D, real_in), judge(D, fake_in)
                adv.log_outputs(ctx, real_logits, fake_logits, names=("real", "fake"))
                terms.update(
                    adv.d_terms(
                        ctx, real_logits, fake_logits, lambda x, D=D: judge(D, x), real_in,
                        fake_in, (name, D),
                    )
                )  # fmt: skip
            return terms

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            a, b = ctx["a"], ctx["b"]
            fake_b, fake_a = G_AB(a), G_BA(b)
            terms = {
                **adv_b.g_terms(ctx, judge(D_B, adv_b.noisy(fake_b, ctx)), ("G_AB", G_AB)),
                **adv_a.g_terms(ctx, judge(D_A, adv_a.noisy(fake_a, ctx)), ("G_BA", G_BA)),
            }
            terms["g_cycle"] = o.lambda_cycle * cycle_loss(a, G_BA(fake_b), b, G_AB(fake_a))
            if lambda_identity:
                terms["g_identity"] = lambda_identity * identity_loss(a, G_BA(a), b, G_AB(b))
            return terms

        betas = (t.beta1, t.beta2)
        return [
            Phase("D", ["D_A", "D_B"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps),
            Phase("G", ["G_AB", "G_BA"], g_loss, lr=t.lr_g, betas=betas),
        ]

    def state(self) -> dict[str, Tensor]:
        """Historical averages and the stored past translations of both pools."""
        out = super().state()
        for name, pool in self.pools.items():
            out.update(pool.state(f"pool.{name}"))
        return out

    def load_state(self, tensors: dict[str, Tensor]) -> None:
        super().load_state({k: v for k, v in tensors.items() if not k.startswith("pool.")})
        for name, pool in self.pools.items():
            pool.load_state(tensors, f"pool.{name}")

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        if data.kind == "image":  # fully convolutional: any H, W that are multiples of 4
            sizes = {"multiple_of": MULTIPLE_OF, "min_size": MIN_SIZE}
            a = {"kind": "image", "shape": list(data.shape), **sizes}
            b = {"kind": "image", "shape": list(domain_b(data).shape[1:]), **sizes}
        else:
            a = b = {"kind": data.kind, "shape": list(data.shape)}
        return {
            "apply": Export("G_AB", "map", a, b, description="translate A -> B"),
            "apply_ba": Export("G_BA", "map", b, a, description="translate B -> A"),
            "cycle_a": Export(  # a registered composite: G_BA(G_AB(a)), what L_cyc compares
                "cycle_a",
                "map",
                a,
                a,
                composite="chain",
                parts={"0": "G_AB", "1": "G_BA"},
                description="round trip A -> B -> A",
            ),
        }

    def preview(self, p: Any) -> None:
        """Images: rows a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)) of fixed test
        images. Points: A, their translations G_AB(a) and points of B."""
        if p.data.kind != "image":
            p.translation("apply", p.data.x[:500], domain_b(p.data)[:500])
            return
        a, b = self.preview_images(p)
        G_AB, G_BA = p.model("apply"), p.model("apply_ba")
        with torch.no_grad(), evaluating(G_AB, G_BA):
            a, b = a.to(p.device), b.to(p.device)
            fake_b, fake_a = G_AB(a), G_BA(b)
            rows = [a, fake_b, G_BA(fake_b), b, fake_a, G_AB(fake_a)]
        channels = max(r.shape[1] for r in rows)  # grey rows beside RGB ones: repeat the grey
        rows = [r.float().cpu().expand(-1, channels, -1, -1) for r in rows]
        p.image_grid(torch.cat(rows), nrow=len(a))

    def preview_images(self, p: Any) -> tuple[Tensor, Tensor]:
        """The first test images of each domain (the training ones where the dataset has no
        test split), loaded once per run."""
        if self._fixed is None:
            d, source = p.cfg.data, p.data
            try:
                if p.data.name != d.name:  # data handed over in code: no split to load
                    raise ConfigError(f"{p.data.name} is not data.name={d.name}")
                with torch.random.fork_rng(devices=[]):  # leaves the run's RNG as it was
                    source = load_dataset(
                        d.name, root=d.root, split="test", image_size=d.image_size,
                        channels=d.channels, n_samples=d.n_samples, seed=p.cfg.train.seed,
                    )  # fmt: skip
                if tuple(source.shape) != tuple(p.data.shape) or domain_b(source) is None:
                    source = p.data
            except (GankitError, OSError):  # no test split (or a dataset made in code)
                source = p.data
            n = min(PREVIEW_IMAGES, len(source.x), len(domain_b(source)))
            self._fixed = (source.x[:n].clone(), domain_b(source)[:n].clone())
        return self._fixed


register_preset(
    "cyclegan-ring-grid",
    "CycleGAN between the 8-Gaussian ring and the 5x5 grid, unpaired; ~1 CPU minute",
    {
        **TOY,
        "train.variant": "cyclegan",
        "data.name": "ring-grid",
        "train.loss": "lsgan",  # Zhu et al. 2017, Sec. 4
        "train.steps": 3000,
        "tricks.instance_noise": 0.05,
        "log.sample_every": 250,
    },
)

# Image presets (Sec. 4): LSGAN, lambda 10, identity 0.5 lambda, a pool of 50, Adam 2e-4 with
# betas (0.5, 0.999), constant then linear decay to 0 over the second half of training.
_IMAGES = {
    "train.variant": "cyclegan",
    "train.loss": "lsgan",
    "train.lr_g": 2e-4,
    "train.lr_d": 2e-4,
    "train.lr_decay": 0.5,
    "log.sample_every": 250,
    "log.checkpoint_every": 1000,
}
register_preset(
    "cyclegan-sneaker-boot",
    "CycleGAN sneakers <-> ankle boots (unpaired Fashion-MNIST halves), a small ResNet G",
    {
        **_IMAGES,
        "data.name": "sneaker-boot",
        "model.g_channels": 16,
        "model.d_channels": 16,
        "options.n_blocks": 6,
        "options.d_layers": 2,  # 34x34 patches: 5x5 decisions on a 28x28 image
        "train.batch_size": 8,
        # 8.2 / 8.3 CPU minutes on one thread (two runs); test sneakers -> 95% called "ankle
        # boot", boots -> 89% "sneaker" (benchmarks/results/cyclegan_sneaker_boot.md, seed 0)
        "train.steps": 2000,
    },
)
register_preset(
    "cyclegan-folder",
    "CycleGAN on your unpaired folders (trainA/, trainB/, testA/, testB/): --set data.root=DIR",
    {
        **_IMAGES,
        "data.name": "unpaired-folder",
        "data.channels": 3,
        "data.image_size": 128,
        "options.n_blocks": 6,  # Appendix 7.2: 6 blocks for 128x128 images
        "train.batch_size": 1,  # Sec. 4
        "train.steps": 20000,
        "log.sample_every": 500,
    },
)
