"""Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs".

G(z, c) makes an image of class c ~ U{0..K-1}. D sees only the image and has two outputs on
one body (Sec. 3): P(S | X), real or fake, and P(C | X), the class. With the log-likelihoods

    L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]        (Eq. 2)
    L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]                (Eq. 3)

D is trained to maximise L_S + L_C and G to maximise L_C - L_S. L_S is GAN's adversarial game
(d_adv, g_adv, in any loss family); this file adds the class terms -L_C for D and the fake half
of -L_C for G, both weighted by ``options.ac_weight``.

With ``options.ac_fake_class=false`` D's class loss uses real images only. On small data the
fake half lets D's head name a generated class by how fake it looks, and G and D can settle
on a permuted labelling (G(z, "T-shirt") draws boots, which D's head calls T-shirts only
because they are fake); real-only class training avoids that (cf. Shu et al. 2017 and Gong et
al. 2019 on AC-GAN's biased class term).

``options.twin_classifier`` is TAC-GAN (Gong et al. 2019, "Twin Auxiliary Classifiers GAN",
Eq. 7): L_C alone pulls G(z, c) towards the images its classifier is surest about, so G can
draw one prototype per class (Sec. 3.1: the class term adds the conditional entropy of Y
given X under G's distribution to what G minimises). A twin head C^mi on the same body learns
the class of *generated* images only; G minimises L_C's fake half minus C^mi's cross-entropy,
so it cannot lower its loss by making the classes easy to tell apart on its own samples, and
the entropy term cancels. D minimises -L_C (real, and fake when ``ac_fake_class``) plus the
twin's cross-entropy on the detached fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.variants.base import VARIANTS
from gankit.variants.cgan import CGAN, CGANOptions, base_networks, refuse_unrolling

NETWORK_TRICKS = ("minibatch_disc", "mbd_kernels", "mbd_dims", "spectral_norm")


@VARIANT_OPTIONS.register("acgan")
@dataclass
class ACGANOptions(CGANOptions):  # G(z, c) is CGAN's: label_mode / embed_dim apply to it
    ac_weight: float = 1.0  # weight of the class log-likelihood L_C (Odena et al. 2017)
    ac_fake_class: bool = True  # D's L_C also on generated images (Eq. 3); false: real only
    twin_classifier: bool = False  # TAC-GAN's twin head C^mi against within-class collapse

    def validate(self) -> None:
        super().validate()
        if self.ac_weight < 0:
            raise ConfigError(f"options.ac_weight={self.ac_weight} must be >= 0.")


@VARIANTS.register("acgan")
class ACGAN(CGAN):
    name = "acgan"
    ddp_safe = False  # its D heads are called directly, outside the DDP forward

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        refuse_unrolling(cfg, self.name)
        nets = super().build(cfg, data)  # G(z, c) as in CGAN
        _, _, d_base, d_kw = base_networks(cfg, data)
        # D sees the image only, so minibatch discrimination and spectral norm go into its
        # body as in gan: closeness features across the batch see G's within-class collapse
        # (a batch of ~B/K images per class, near copies of each other)
        net_tricks = tricks.discriminator_options(cfg)
        d_kw = {**d_kw, **{k: v for k, v in net_tricks.items() if k in NETWORK_TRICKS}}
        # D(x) does not see the class; its linear head gives the K logits of P(C | X), and
        # with the twin the K logits of C^mi(C | X) after them.
        k, twin = self.latent.num_classes, cfg.options.twin_classifier
        nets["D"] = build_network(
            "cond_d", base=d_base, base_kwargs=d_kw, head_dim=k * (2 if twin else 1)
        )
        self.weight, self.fake_class = cfg.options.ac_weight, cfg.options.ac_fake_class
        self.k, self.twin = k, twin
        return nets

    def d_logits(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"](x)  # P(S | X) only: the class is not an input

    def judge(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> tuple[Tensor, Any]:
        return nets["D"](x, with_head=True)  # P(S | X) and P(C | X) from one pass

    def extra_d_terms(
        self, nets, ctx, real: Tensor, fake: Tensor, fake_cond: Any, real_head=None, fake_head=None
    ) -> dict[str, Tensor]:
        def head(given, x):  # the class logits of D's pass over x (one made when not given)
            return given if given is not None else self.judge(nets, x, None)[1]

        real_class = head(real_head, real)[:, : self.k]  # (N, K) logits of P(C | X_real)
        ctx.log("class_acc(x)", (real_class.argmax(1) == ctx.labels).float().mean())
        # -L_C: cross-entropy is -log P(C = c | X), averaged over the batch.
        nll = F.cross_entropy(real_class, ctx.labels)
        if self.fake_class or self.twin:
            fake_out = head(fake_head, fake)
        if self.fake_class:  # the fake half of L_C; see options.ac_fake_class
            nll = nll + F.cross_entropy(fake_out[:, : self.k], fake_cond)
        if self.twin:  # C^mi learns the classes of G's (detached) samples
            twin_nll = F.cross_entropy(fake_out[:, self.k :], fake_cond)
            ctx.log("twin_acc(G(z))", (fake_out[:, self.k :].argmax(1) == fake_cond).float().mean())
            nll = nll + twin_nll
        return {"d_class": self.weight * nll}

    def extra_g_terms(
        self, nets, ctx, fake: Tensor, fake_cond: Any, fake_head=None
    ) -> dict[str, Tensor]:
        # with feature matching no pass judged the samples: the head needs one of its own
        out = fake_head if fake_head is not None else self.judge(nets, fake, None)[1]
        fake_class = out[:, : self.k]
        ctx.log("class_acc(G(z))", (fake_class.argmax(1) == fake_cond).float().mean())
        loss = F.cross_entropy(fake_class, fake_cond)
        if self.twin:  # TAC-GAN: minus the twin's cross-entropy on the same samples
            loss = loss - F.cross_entropy(out[:, self.k :], fake_cond)
        return {"g_class": self.weight * loss}
