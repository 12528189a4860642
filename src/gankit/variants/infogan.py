"""Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets".

G(z, c) takes incompressible noise z and a latent code c: here one categorical code with K
values (``options.info_categorical``) and ``options.info_continuous`` codes ~ U(-1, 1) (Sec. 5).
No labels are used. The game asks for high mutual information between c and G(z, c) (Eq. 3):

    min_G max_D V_I(D, G) = V(D, G) - lambda I(c; G(z, c)).

I is bounded below through an auxiliary distribution Q(c | x) (Lemma 5.1, Eq. 4-5):

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c) <= I(c; G(z, c)),

and the objective becomes min_{G, Q} max_D V(D, G) - lambda L_I(G, Q) (Eq. 6), lambda being
``options.info_weight``. Q is a head on D's body (Sec. 6): a softmax over the K values and, for
each continuous code, a factored Gaussian with unit variance, whose log-likelihood is
-(c - mu)^2 / 2 + const. As in the authors' code, -lambda L_I (without the constant H(c)) is
added to D's loss, which trains Q and the shared body, and to G's loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.networks.conditional import LatentLayout
from gankit.variants.base import VARIANTS, StepContext, sampler_export
from gankit.variants.cgan import base_networks, refuse_unrolling
from gankit.variants.gan import GAN

Q_HIDDEN = 128  # FC.128-BN-lReLU before Q's outputs (Chen et al. 2016, Table 1)


@VARIANT_OPTIONS.register("infogan")
@dataclass
class InfoGANOptions:
    info_categorical: int = 10  # values of its one categorical code (0: no such code)
    info_continuous: int = 2  # continuous codes, each ~ U(-1, 1)
    info_weight: float = 1.0  # lambda on the mutual-information bound L_I (Eq. 6)

    def validate(self) -> None:
        if self.info_categorical < 0 or self.info_categorical == 1:  # 1 value: no information
            raise ConfigError(
                f"options.info_categorical={self.info_categorical} must be 0 (no code) "
                "or at least 2."
            )
        if self.info_continuous < 0 or self.info_weight < 0:
            raise ConfigError("options.info_continuous and options.info_weight must be >= 0.")


@VARIANTS.register("infogan")
class InfoGAN(GAN):
    name = "infogan"
    ddp_safe = False  # its D heads are called directly, outside the DDP forward
    applies = "read latent codes off images with Q (--export codes)"

    def layout(self, cfg: Config, data: Any = None) -> LatentLayout:
        o = cfg.options
        cat = (o.info_categorical,) if o.info_categorical else ()
        if not cat and not o.info_continuous:
            raise ConfigError(
                "infogan needs a latent code: set options.info_categorical >= 2 "
                "or options.info_continuous >= 1."
            )
        return LatentLayout(cfg.model.z_dim, categorical=cat, continuous=o.info_continuous)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        refuse_unrolling(cfg, self.name)
        self.latent = self.layout(cfg, data)
        self.weight = cfg.options.info_weight
        g_base, g_kw, d_base, d_kw = base_networks(cfg, data)
        G = build_network(
            "cond_g",
            base=g_base,
            base_kwargs=g_kw,
            z_dim=cfg.model.z_dim,
            code_dim=self.latent.code_dim,
        )
        D = build_network(  # one head: K categorical logits, then one mean per continuous code
            "cond_d",
            base=d_base,
            base_kwargs=d_kw,
            head_dim=self.latent.code_dim,
            head_hidden=Q_HIDDEN,
        )
        return {"G": G, "D": D}

    def fake_batch(self, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, Any]:
        z = ctx.sample_z(ctx.batch_size)
        cat, cont = self.latent.draw_codes(ctx.batch_size, ctx.rng, z.device)  # c ~ P(c)
        return nets["G"](z, c=self.latent.code_vector(cat, cont)), (cat, cont)

    def d_logits(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"](x)  # V(D, G) is the plain GAN game on x

    def judge(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> tuple[Tensor, Any]:
        return nets["D"](x, with_head=True)  # D's logits and Q(c | x) from one pass

    def info_loss(self, nets, ctx: StepContext, q: Tensor | None, fake: Tensor, codes) -> Tensor:
        """-L_I + H(c): the negative log-likelihood of the codes under Q(c | G(z, c)); ``q``
        is Q's output from D's pass over ``fake`` (None: make one)."""
        cat, cont = codes
        q = q if q is not None else self.judge(nets, fake, None)[1]  # (N, code_dim)
        nll = q.new_zeros(())
        start = 0
        for i, k in enumerate(self.latent.categorical):
            ce = F.cross_entropy(q[:, start : start + k], cat[:, i])
            ctx.log(f"MI_bound(c{i})", math.log(k) - ce)  # L_I for this code (Eq. 5), <= log K
            nll, start = nll + ce, start + k
        if self.latent.continuous:
            # unit-variance Gaussian: -log Q(c | x) = (c - mu)^2 / 2 + const
            nll = nll + 0.5 * ((cont - q[:, start:]) ** 2).sum(1).mean()
        return nll

    def extra_d_terms(
        self, nets, ctx, real: Tensor, fake: Tensor, fake_cond: Any, real_head=None, fake_head=None
    ) -> dict[str, Tensor]:
        return {"d_info": self.weight * self.info_loss(nets, ctx, fake_head, fake, fake_cond)}

    def extra_g_terms(
        self, nets, ctx, fake: Tensor, fake_cond: Any, fake_head=None
    ) -> dict[str, Tensor]:
        return {"g_info": self.weight * self.info_loss(nets, ctx, fake_head, fake, fake_cond)}

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        """G(z, c) as the sampler, and Q(c | x) (D.outputs(x)[1]) to read codes off images."""
        layout = self.layout(cfg, data)
        return {
            "sample": sampler_export("G", layout, data),
            "codes": Export(
                "D",
                "map",
                input={"kind": data.kind, "shape": list(data.shape)},
                output={"kind": "codes", "shape": [layout.code_dim]},
                ema=False,
                call="outputs",
                index=1,
                description="Q's logits of each categorical code, then continuous means",
            ),
        }
