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
``reconstruct``: G(E(x)).
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
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant, sampler_export


@VARIANTS.register("bigan")
class BiGAN(Variant):
    name = "bigan"
    ema_modules = ("G", "E")
    applies = "encode data to latent codes z = E(x)"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        if data.kind != "vector":
            raise ConfigError(f"{self.name} takes vector data (e.g. data.name=ring) for now.")
        m, (x_dim,) = cfg.model, data.shape
        size = {"hidden": m.hidden, "layers": m.layers}
        return {  # built in this order: G, E, D (the seeded initialisation depends on it)
            "G": build_network("mlp_g", z_dim=m.z_dim, out_shape=[x_dim], **size),
            "E": self.encoder(x_dim, m.z_dim, size),
            # D(x, z) judges the concatenated pair [x, z]
            "D": build_network(
                "mlp_d", in_shape=[x_dim + m.z_dim], **size, **tricks.discriminator_options(cfg)
            ),
        }

    def encoder(self, x_dim: int, z_dim: int, size: dict[str, int]) -> nn.Module:
        """E: x -> z, deterministic here (BiGAN); ALI's is a Gaussian q(z|x)."""
        return build_network("mlp", in_dim=x_dim, out_dim=z_dim, **size)

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
            data_pair = torch.cat([adv.noisy(x, ctx), ex], 1)
            model_pair = torch.cat([adv.noisy(gz, ctx), z], 1)
            return D(data_pair), D(model_pair)

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
            "reconstruct": Export(  # x -> G(E(x)), a composite of the two trained maps
                "reconstruct",
                "map",
                input=data_io,
                output=data_io,
                composite="encode_decode",
                parts={"encoder": "E", "decoder": "G"},
                description="reconstruct data: G(E(x)) (E's mean for a stochastic encoder)",
            ),
        }

    @torch.no_grad()
    def preview(self, p: Any) -> None:
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
