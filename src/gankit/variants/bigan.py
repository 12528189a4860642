"""Donahue, Krähenbühl & Darrell 2016, "Adversarial Feature Learning" (BiGAN); Dumoulin et
al. 2016, "Adversarially Learned Inference" (ALI) is the same game.

Besides G: z -> x, an encoder E: x -> z is learned. The discriminator judges joint pairs:
(x, E(x)) with x ~ p_data against (G(z), z) with z ~ p_z (Sec. 3, Eq. 3):

    min_{G,E} max_D V(D, E, G) = E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))].

At the optimum E = G^-1 (Theorem 2), so E(x) encodes x and G(E(x)) reconstructs it. As in
the paper's experiments G and E minimise the "inverted" objective, D's loss with the two
pairs' labels swapped (the non-saturating form of V; Sec. 3.4). D's tricks (instance noise on
x, label smoothing, historical averaging) come from tricks.AdversarialTerms like any GAN's.
Exports: the sampler G, ``apply``: E, which encodes points or images to latent codes, and
``reconstruct``: G(E(x)); for images also ``encoder_features`` (E's pooled conv features, for
the linear probe of `gankit probe --source encoder`).

Networks. Vectors: MLPs, D of the concatenated pair [x, z]. Images (BiGAN Sec. 4, ALI Sec. 4
and Appendix A): G the DCGAN generator, E a DCGAN-trunk encoder (conv_e), D(x, z) a conv
trunk on x and an MLP on z joined by an MLP (conv_xz_d: dropout 0.2, no BatchNorm, as
ALI's discriminators).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit import tricks
from gankit.config import Config
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.nn.modes import evaluating
from gankit.presets import TOY, register_preset
from gankit.variants.base import (
    VARIANTS,
    Phase,
    StepContext,
    Variant,
    reconstruct_export,
    sampler_export,
    square_images,
)


@VARIANTS.register("bigan")
class BiGAN(Variant):
    name = "bigan"
    ema_modules = ("G", "E")
    applies = "encode data to latent codes z = E(x)"

    gaussian = False  # E is a deterministic map (BiGAN); ALI's is a Gaussian q(z|x)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        if data.kind == "image":
            return self.build_for_images(cfg, data)
        if data.kind != "vector":
            raise ConfigError(f"{self.name} takes vector or image data, not {data.kind} data.")
        m, (x_dim,) = cfg.model, data.shape
        size = {"hidden": m.hidden, "layers": m.layers}
        return {  # built in this order: G, E, D (the seeded initialisation depends on it)
            "G": build_network("mlp_g", z_dim=m.z_dim, out_shape=[x_dim], **size),
            "E": build_network(
                "mlp_gauss" if self.gaussian else "mlp", in_dim=x_dim, out_dim=m.z_dim, **size
            ),
            # D(x, z) judges the concatenated pair [x, z]
            "D": build_network(
                "mlp_d", in_shape=[x_dim + m.z_dim], **size, **tricks.discriminator_options(cfg)
            ),
        }

    def build_for_images(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        """BiGAN Sec. 4 / ALI Appendix A on images: G a DCGAN generator, E a DCGAN-trunk
        encoder (conv_e, as wide as D), D(x, z) a conv trunk on x joined with an MLP on z
        (conv_xz_d, gankit.networks.joint)."""
        channels, side = square_images(data, self.name, "")
        m, shape = cfg.model, {"image_size": side, "channels": channels}
        return {  # G, E, D as for vectors
            "G": build_network("dcgan_g", z_dim=m.z_dim, width=m.g_channels, **shape),
            "E": build_network(
                "conv_e", z_dim=m.z_dim, width=m.d_channels, gaussian=self.gaussian, **shape
            ),
            "D": build_network(
                "conv_xz_d",
                z_dim=m.z_dim,
                width=m.d_channels,
                **shape,
                **tricks.discriminator_options(cfg),
            ),
        }

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t = cfg.train
        tricks.check_tricks(cfg, nets["D"], nets["G"], names=("D", "G"))
        self.history = tricks.history_from(cfg)
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)
        k = cfg.tricks
        if k.feature_matching or k.unrolled_steps or tricks.gp_weight(k, adv.family):
            raise ConfigError(
                f"{self.name} supports the loss-term tricks (instance noise, label smoothing, "
                "soft / noisy labels, historical averaging), not feature matching, unrolling "
                "or gradient penalties on the joint pair."
            )
        G, E, D = nets["G"], nets["E"], nets["D"]

        def pairs(ctx: StepContext, train_ge: bool) -> tuple[Tensor, Tensor]:
            """D's logits of the data pair (x, E(x)) and of the model pair (G(z), z)."""
            x, z = ctx.real, ctx.sample_z(ctx.batch_size)
            with torch.set_grad_enabled(train_ge):  # the D step builds no graph of G and E
                ex, gz = self.encode(E, x, ctx), G(z)
            return joint(adv.noisy(x, ctx), ex), joint(adv.noisy(gz, ctx), z)

        def joint(x: Tensor, z: Tensor) -> Tensor:
            """D(x, z): for vectors D of the concatenated pair [x, z], for images conv_xz_d."""
            return D(torch.cat([x, z], 1)) if x.ndim == 2 else D(x, z)

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            real_logits, fake_logits = pairs(ctx, train_ge=False)
            adv.log_outputs(ctx, real_logits, fake_logits, names=("x,E(x)", "G(z),z"))
            return adv.d_terms(ctx, real_logits, fake_logits, module=("D", D))

        def ge_loss(ctx: StepContext) -> dict[str, Tensor]:
            real_logits, fake_logits = pairs(ctx, train_ge=True)
            # the inverted objective: D's loss with the pairs' roles swapped
            terms = {"ge_adv": adv.family.d_loss(fake_logits, real_logits)}
            if self.history is not None:
                terms["ge_hist"] = self.history.term("G", G) + self.history.term("E", E)
            return terms

        betas = (t.beta1, t.beta2)
        return [
            Phase("D", ["D"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps),
            Phase("GE", ["G", "E"], ge_loss, lr=t.lr_g, betas=betas),
        ]

    def encode(self, E: nn.Module, x: Tensor, ctx: StepContext | None = None) -> Tensor:
        """The code z = E(x) paired with x; BiGAN's encoder is deterministic, so ``ctx`` (the
        step's noise stream, None outside training) is unused. ALI draws z here."""
        return E(x)

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        code = {"kind": "codes", "shape": [cfg.model.z_dim]}
        data_io = {"kind": data.kind, "shape": list(data.shape)}
        return {
            "sample": sampler_export("G", self.layout(cfg, data), data),
            "apply": Export(
                "E",
                "map",
                input=data_io,
                output=code,
                description="encode data to latent codes z = E(x)",
            ),
            "reconstruct": reconstruct_export(
                data_io, "reconstruct data: G(E(x)) (E's mean for a stochastic encoder)"
            ),
            **self.feature_exports(cfg, data),
        }

    def feature_exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        """For images, ``encoder_features``: E's conv blocks max-pooled to 4x4 and
        concatenated, then the code (conv_e.probe_features; the DCGAN probe recipe, Radford
        et al. 2015, Sec. 5.1, on the encoder), what `gankit probe --source encoder` reads."""
        if data.kind != "image":
            return {}
        channels, side, _ = data.shape
        with torch.device("meta"):  # only the feature length is wanted: no storage
            E = build_network(
                "conv_e", image_size=side, channels=channels, z_dim=cfg.model.z_dim,
                width=cfg.model.d_channels, gaussian=self.gaussian,
            )  # fmt: skip
            dim = E.probe_features(torch.zeros(2, *data.shape)).shape[1]
        features = Export(
            "E",
            "map",
            input={"kind": "image", "shape": list(data.shape)},
            output={"kind": "vector", "shape": [int(dim)]},
            call="probe_features",
            description="E's conv features, each block max-pooled to 4x4, and the code",
        )
        return {"encoder_features": features}

    @torch.no_grad()
    def preview(self, p: Any) -> None:
        """Images: the fixed-noise samples G(z), then rows of real images x, each above its
        reconstruction G(E(x)). Vectors: data (black), G(z) (red) and reconstructions
        G(E(x)) (blue), joined to their x."""
        if p.data.kind == "image":
            self.image_preview(p)
        else:
            self.point_preview(p)

    def image_preview(self, p: Any) -> None:
        G, recon = p.sampler(), p.model("reconstruct")
        if G is None or recon is None:
            return
        cols = 8
        fake = G.grid(p.fixed_z)[: 4 * cols]
        # fixed real images spread over the data set: the same ones at every step
        real = p.data.x[torch.linspace(0, len(p.data.x) - 1, 2 * cols).long()].to(p.device)
        with evaluating(recon):
            rec = recon(real)
        rows = [fake, real[:cols], rec[:cols], real[cols:], rec[cols:]]
        p.image_grid(torch.cat([r.float().cpu() for r in rows]), nrow=cols)

    def point_preview(self, p: Any) -> None:
        """Data (black), G(z) (red) and reconstructions G(E(x)) (blue), joined to their x."""
        G, E = p.sampler(), p.model("apply")
        gen = torch.Generator(device=p.device).manual_seed(p.cfg.train.seed + 4)
        fake = G.grid(G.prior.sample(1000, gen, p.device))
        real = p.data.x[:1000].to(p.device)
        with evaluating(E):
            recon = G.generate(self.encode(E, real))
        sets = [(real, "black", "data x"), (fake, "red", "G(z)"), (recon, "tab:blue", "G(E(x))")]
        p.points(sets, lines=(real[:60], recon[:60]))


register_preset(
    "bigan-ring",
    "BiGAN / ALI on the 8-Gaussian ring: G(z), an encoder E(x) and D on (x, z); ~2 CPU minutes",
    {
        **TOY,
        "train.variant": "bigan",
        "data.name": "ring",
        "train.steps": 6000,
        # chosen on pilot runs (docs/variants.md): 3000 plain steps reached 0-4 of 8 modes
        "train.d_steps": 2,
        "train.lr_decay": 0.5,
        "tricks.instance_noise": 0.05,  # on x in both pairs, annealed to 0: keeps D from winning
        "log.sample_every": 250,
    },
)

# Images: Fashion-MNIST 28x28 with dcgan-fashion's widths and batch (32, 32) and its Adam rate
# 5e-4 (beta1 0.5, as BiGAN Sec. 4 and ALI Appendix A). Two 2000-step pilots of bigan-fashion
# (seed 0; Adam 2e-4, the papers' rate, against 5e-4) gave a similar pair of sample grids with
# fewer checkerboard artefacts at 5e-4; 5000 steps (2.7 epochs) take ~8 CPU minutes (one
# thread, 0.095 CPU s a step in the pilots).
FASHION = {
    "data.name": "fashion-mnist",
    "model.z_dim": 64,
    "model.g_channels": 32,
    "model.d_channels": 32,
    "train.batch_size": 32,
    "train.lr_g": 5e-4,
    "train.lr_d": 5e-4,
    "train.steps": 5000,
    "log.sample_every": 0,
    "log.checkpoint_every": 500,
}
register_preset(
    "bigan-fashion",
    "BiGAN on Fashion-MNIST 28x28: DCGAN G, conv encoder E, conv D(x, z); ~8 CPU minutes",
    {**FASHION, "train.variant": "bigan"},
)
