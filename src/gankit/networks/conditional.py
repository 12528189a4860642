"""Conditional and structured-latent networks: G(z, y, c) and D(x, y) with AC / Q heads.

Both are wrappers around a registered base network (``mlp_*`` or ``dcgan_*``):

* The generator's input is the concatenation [z, code(y), c]. Mirza & Osindero 2014, Sec. 3.2:
  "y is fed into both the discriminator and generator as additional input layer"; code(y) is
  that one-hot vector or a learned embedding of it; c is InfoGAN's latent code vector
  (Chen et al. 2016, Sec. 4), one-hot categorical codes then continuous ones.
* The discriminator sees the label either as extra input (one-hot or embedding; broadcast to
  constant feature maps for images) or through the projection head of Miyato & Koyama 2018,
  Eq. (3): f(x, y) = y^T V phi(x) + psi(phi(x)), with phi(x) D's body as a flat vector.
* An optional extra head on D's body: a linear class head (AC-GAN, Odena et al. 2017) or
  InfoGAN's Q network, FC.128-BN-lReLU-FC on the shared body (Chen et al. 2016, Table 1).

:class:`LatentLayout` describes what the generator takes besides z; it is saved in the
checkpoint so :func:`gankit.runs.load_generator` can draw labels and codes without the
training code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError, RunError
from gankit.networks.base import NETWORKS
from gankit.networks.dcgan import DCGANDiscriminator, dcgan_levels
from gankit.networks.mlp import MLPDiscriminator


class LabelCode(nn.Module):
    """code(y): a one-hot vector (K values) or a learned embedding (``embed_dim`` values)."""

    def __init__(self, num_classes: int, mode: str, embed_dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.embed = None if mode == "onehot" else nn.Embedding(num_classes, embed_dim)
        self.dim = num_classes if mode == "onehot" else embed_dim

    def forward(self, y: Tensor) -> Tensor:
        if self.embed is None:
            return F.one_hot(y, self.num_classes).float()
        return self.embed(y)


@NETWORKS.register("cond_g")
class ConditionalGenerator(nn.Module):
    def __init__(
        self,
        base: str,  # a registered generator taking z_dim: "dcgan_g" or "mlp_g"
        base_kwargs: dict[str, Any],  # its other constructor arguments (shape, width, ...)
        z_dim: int,  # the noise part only
        num_classes: int = 0,  # K for a class-conditional G(z|y); 0 for none
        label_mode: str = "embed",  # code(y): "embed" (learned) or "onehot"
        embed_dim: int = 16,
        code_dim: int = 0,  # length of InfoGAN's code vector c
    ):
        super().__init__()
        self.z_dim, self.code_dim = z_dim, code_dim
        mode = "onehot" if label_mode == "onehot" else "embed"  # projection is D-side only
        self.label = LabelCode(num_classes, mode, embed_dim) if num_classes else None
        in_dim = z_dim + (self.label.dim if self.label else 0) + code_dim
        self.base = NETWORKS.get(base)(z_dim=in_dim, **base_kwargs)
        self.out_shape = self.base.out_shape

    def label_code(self, y: Tensor) -> Tensor:
        """code(y), (N,) -> (N, E); interpolations between labels mix these vectors."""
        return self.label(y)

    def forward(
        self,
        z: Tensor,
        y: Tensor | None = None,
        c: Tensor | None = None,
        y_code: Tensor | None = None,
    ) -> Tensor:
        parts = [z]
        if self.label is not None:
            if y_code is None and y is None:
                raise ValueError("this generator is conditional: pass labels y (or y_code)")
            parts.append(self.label(y) if y_code is None else y_code)
        if self.code_dim:
            if c is None:
                raise ValueError(f"this generator takes a latent code c of size {self.code_dim}")
            parts.append(c)
        return self.base(torch.cat(parts, 1))  # (N, z_dim + E + code_dim) -> sample


def _split_base(base: str, kw: dict[str, Any], extra_in: int) -> tuple[nn.Module, nn.Module, int]:
    """(body, adversarial head, size of phi(x)) of base discriminator ``base`` built with
    ``extra_in`` more input channels (images) or values (flattened input) for the label."""
    if base == "dcgan_d":
        net = DCGANDiscriminator(**{**kw, "channels": kw["channels"] + extra_in})
        s0, n = dcgan_levels(kw["image_size"])
        return net.features, net.head, kw.get("width", 64) * 2 ** (n - 1) * s0 * s0
    if base == "mlp_d":
        net = MLPDiscriminator(**{**kw, "in_shape": [math.prod(kw["in_shape"]) + extra_in]})
        body = getattr(net, "n_body", len(net.net) - 1)  # hidden layers, then the output layer
        return net.net[:body], net.net[body:], kw.get("hidden", 128)
    raise ConfigError(f"conditional discriminators wrap dcgan_d or mlp_d, not {base!r}.")


@NETWORKS.register("cond_d")
class ConditionalDiscriminator(nn.Module):
    def __init__(
        self,
        base: str,  # "dcgan_d" or "mlp_d"
        base_kwargs: dict[str, Any],
        num_classes: int = 0,  # K for D(x|y); 0: D does not see the label
        label_mode: str = "embed",  # "embed" / "onehot": extra input; "projection": Miyato Eq. 3
        embed_dim: int = 16,
        head_dim: int = 0,  # outputs of the extra head (AC classes or InfoGAN Q); 0: none
        head_hidden: int = 0,  # 0: a linear head (AC-GAN); >0: FC-BN-lReLU-FC (InfoGAN's Q)
    ):
        super().__init__()
        self.flat_input = base == "mlp_d"
        self.label = None
        if num_classes and label_mode != "projection":
            self.label = LabelCode(num_classes, label_mode, embed_dim)
        extra_in = self.label.dim if self.label else 0
        self.body, self.adv, feat = _split_base(base, base_kwargs, extra_in)
        self.proj = None
        if num_classes and label_mode == "projection":
            self.proj = nn.Embedding(num_classes, feat)  # V in y^T V phi(x)
            nn.init.normal_(self.proj.weight, 0.0, 0.02)  # the scale of psi's N(0, 0.02) init
        self.head = None
        if head_dim and head_hidden:
            self.head = nn.Sequential(
                nn.Linear(feat, head_hidden),
                nn.BatchNorm1d(head_hidden),
                nn.LeakyReLU(0.2),
                nn.Linear(head_hidden, head_dim),
            )
        elif head_dim:
            self.head = nn.Linear(feat, head_dim)

    def _input(self, x: Tensor, y: Tensor | None) -> Tensor:
        if self.flat_input:
            x = x.flatten(1)
        if self.label is None:
            return x
        if y is None:
            raise ValueError("this discriminator is conditional: pass labels y")
        code = self.label(y)  # (N, E)
        if x.ndim == 4:  # images: E constant maps beside the C image channels
            code = code[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return torch.cat([x, code], 1)

    def forward(
        self, x: Tensor, y: Tensor | None = None, with_head: bool = False
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        """Adversarial logits (N,); with ``with_head`` also the extra head's outputs
        (N, head_dim) or None, from the same pass through the body."""
        h = self.body(self._input(x, y))
        phi = h.flatten(1)  # (N, feat)
        logits = self.adv(h).reshape(len(x))
        if self.proj is not None:
            if y is None:
                raise ValueError("the projection discriminator needs labels y")
            logits = logits + (self.proj(y) * phi).sum(1)  # + y^T V phi(x)
        if not with_head:
            return logits
        return logits, None if self.head is None else self.head(phi)

    def adversarial_modules(self) -> list[nn.Module]:
        """The modules on the path to the adversarial logit (not the extra head, whose
        BatchNorm a gradient penalty on the logit never sees)."""
        return [m for m in (self.label, self.body, self.adv, self.proj) if m is not None]

    def outputs(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """(adversarial logits, extra head outputs or None) in one pass."""
        return self(x, y, with_head=True)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """phi(x), D's body as a flat vector (N, feat): what feature matching compares."""
        return self.body(self._input(x, y)).flatten(1)


@dataclass(frozen=True)
class LatentLayout:
    """What a generator takes besides z ~ p_z, saved as ``generator_input`` in checkpoints.

    Codes are numbered for ``gankit traverse``: the class label first (conditional runs), then
    each categorical code, then each continuous code.
    """

    z_dim: int
    num_classes: int = 0  # class label y in 0..K-1 (CGAN, AC-GAN); 0: none
    categorical: tuple[int, ...] = ()  # InfoGAN categorical codes, with this many values each
    continuous: int = 0  # InfoGAN continuous codes, each ~ U(-1, 1) (Chen et al. 2016, Sec. 5)
    class_names: tuple[str, ...] = ()

    @property
    def code_dim(self) -> int:
        """Length of the code vector c: one-hot categorical codes, then continuous ones."""
        return sum(self.categorical) + self.continuous

    @property
    def plain(self) -> bool:
        """True for an ordinary G(z)."""
        return not self.num_classes and not self.code_dim

    def to_meta(self) -> dict[str, Any]:
        return {
            "z_dim": self.z_dim,
            "num_classes": self.num_classes,
            "categorical": list(self.categorical),
            "continuous": self.continuous,
            "class_names": list(self.class_names),
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> LatentLayout:
        return cls(
            z_dim=int(meta["z_dim"]),
            num_classes=int(meta.get("num_classes") or 0),
            categorical=tuple(int(k) for k in meta.get("categorical", ())),
            continuous=int(meta.get("continuous", 0)),
            class_names=tuple(str(c) for c in meta.get("class_names", ())),
        )

    # --- drawing -------------------------------------------------------------------------
    def draw_labels(self, n: int, gen: torch.Generator, device: Any) -> Tensor:
        """y ~ U{0..K-1}, (n,) int64, from ``gen`` (the run's saved stream in training)."""
        return torch.randint(self.num_classes, (n,), generator=gen, device=device)

    def draw_codes(self, n: int, gen: torch.Generator, device: Any) -> tuple[Tensor, Tensor]:
        """(categorical values (n, n_cat) int64, continuous values (n, n_cont) ~ U(-1, 1))."""
        cat = [torch.randint(k, (n, 1), generator=gen, device=device) for k in self.categorical]
        cat_t = torch.cat(cat, 1) if cat else torch.zeros(n, 0, dtype=torch.long, device=device)
        cont = torch.zeros(n, 0, device=device)
        if self.continuous:  # only draw when there are codes, so G(z)'s stream is unchanged
            cont = torch.rand((n, self.continuous), generator=gen, device=device) * 2 - 1
        return cat_t, cont

    def code_vector(self, cat: Tensor, cont: Tensor) -> Tensor:
        """c = [one-hot(cat_1), ..., one-hot(cat_m), cont], (n, code_dim) float."""
        parts = [F.one_hot(cat[:, i], k).float() for i, k in enumerate(self.categorical)]
        return torch.cat([*parts, cont.float()], 1)

    def grid_inputs(self, n: int, device: Any) -> dict[str, Tensor]:
        """G's inputs besides z for the preview grids: class i % K for sample i (with 100
        fixed samples a 10-wide grid has a class per column), categorical value i % k, and
        continuous codes 0."""
        i = torch.arange(n, device=device)
        out: dict[str, Tensor] = {}
        if self.num_classes:
            out["y"] = i % self.num_classes
        if self.code_dim:
            cat = torch.stack([i % k for k in self.categorical], 1) if self.categorical else None
            cat = cat if cat is not None else i[:, None][:, :0]  # (n, n_cat)
            out["c"] = self.code_vector(cat, torch.zeros(n, self.continuous, device=device))
        return out

    def grid_labels(self, n: int) -> Tensor | None:
        """The class asked for in each of ``n`` preview samples; None without labels."""
        return torch.arange(n) % self.num_classes if self.num_classes else None

    # --- codes by number (traverse, per-class grids) ----------------------------------------
    def codes(self) -> list[tuple[str, int | None]]:
        """[(kind, number of values or None for continuous), ...] in traversal order."""
        out: list[tuple[str, int | None]] = (
            [("label", self.num_classes)] if self.num_classes else []
        )
        out += [("categorical", k) for k in self.categorical]
        return out + [("continuous", None)] * self.continuous

    def describe_codes(self) -> str:
        found = [
            f"{i} = {kind}" + (f" ({k} values)" if k else "")
            for i, (kind, k) in enumerate(self.codes())
        ]
        return ", ".join(found) if found else "none (an unconditional G(z) without codes)"

    def check(self, label: int | None, codes: dict[int, float], source: str) -> None:
        """Raise a one-line RunError for a label or code this generator was not trained with."""
        if label is not None:
            if not self.num_classes:
                hint = f" (its latent codes: {self.describe_codes()})" if self.code_dim else ""
                raise RunError(f"{source} is not a conditional run{hint}; drop --label.")
            if not 0 <= label < self.num_classes:
                plain = list(self.class_names) == [str(i) for i in range(self.num_classes)]
                names = (
                    f" ({', '.join(self.class_names)})" if self.class_names and not plain else ""
                )
                raise RunError(
                    f"label {label} is outside the classes {source} was trained on: "
                    f"choose one of 0..{self.num_classes - 1}{names}."
                )
        known = self.codes()
        for i, value in codes.items():
            if not 0 <= i < len(known):
                raise RunError(
                    f"code {i} does not exist in {source}; its codes: {self.describe_codes()}."
                )
            kind, k = known[i]
            if k is not None and (value != int(value) or not 0 <= value < k):
                raise RunError(
                    f"code {i} is {kind} with values 0..{k - 1}; {value:g} is not one of them."
                )

    def draw(
        self,
        n: int,
        prior: Any,
        gen: torch.Generator,
        device: Any,
        codes: dict[int, float] | None = None,
    ) -> dict[str, Tensor]:
        """The generator's keyword inputs for n samples: z, and y and c where it takes them.

        ``codes`` fixes codes by number ({0: 3} is class 3 on a conditional run). Everything is
        drawn first and then overwritten, so that fixing one code leaves the others (and z)
        exactly as the same seed would draw them: a traversal varies one code only.
        """
        z = prior.sample(n, gen, device)
        y = self.draw_labels(n, gen, device) if self.num_classes else None
        cat, cont = self.draw_codes(n, gen, device)
        first_cat = 1 if self.num_classes else 0
        first_cont = first_cat + len(self.categorical)
        for i, value in (codes or {}).items():
            if i < first_cat:
                y = torch.full_like(y, int(value))
            elif i < first_cont:
                cat[:, i - first_cat] = int(value)
            else:
                cont[:, i - first_cont] = float(value)
        out = {"z": z}
        if y is not None:
            out["y"] = y
        if self.code_dim:
            out["c"] = self.code_vector(cat, cont)
        return out
