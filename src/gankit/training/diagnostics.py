"""Live failure-mode diagnosis: a training Callback and the detectors it runs.

At every stats record the :class:`Diagnostics` callback measures what the losses cannot show
(G's gradient norm, the diversity of G's samples against the data's, the modes or classes
they reach) and adds it to the record as ``diag/...`` keys. Detectors are pure functions of
the list of records, so `gankit diagnose` can replay them on ``stats.jsonl`` of any run:

* ``discriminator_wins``: D loss -> 0 with D(x) -> 1 and D(G(z)) -> 0, or G's gradient
  vanishing while D is clearly ahead (Goodfellow et al. 2014, Sec. 3; lecture 003 "track
  failures early");
* ``vanishing_gradient``: G's gradient vanishing while D(x) ~ D(G(z)): a stalled game;
* ``mode_collapse``: G's samples far less diverse than the data's, or reaching at most half
  of the modes (toy mixtures) or classes (labelled data) (lecture 001 "collapsing of G");
* ``non_convergence``: the generator's loss keeps swinging while the tracked quality metric
  makes no progress (lecture 001 "converging of the models");
* ``nan``: a non-finite loss or gradient; training stops and the last good checkpoint stays.

Each finding is reported once (a warning on stderr), marked in the record where it was first
seen (key ``finding``) and kept in ``RUN/diagnosis.json`` with its evidence and a remedy.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.config import Config, DiagnoseConfig
from gankit.runs import RunDir, atomic_write_bytes
from gankit.training.callbacks import Callback, Trainer  # Trainer: the loop's, as Any

DIAGNOSIS_FILE = "diagnosis.json"

# Thresholds, named so that no number hides in the detectors.
WIN_D_REAL = 0.9  # D(x) above this ...
WIN_D_FAKE = 0.1  # ... and D(G(z)) below this: D separates the two almost perfectly
WIN_D_LOSS = 0.3  # BCE of such a D is at most about -2 log 0.9 = 0.21
WIN_HINGE_LOSS = 0.1  # hinge D loss near 0: every margin satisfied
GRAD_VANISH = 1e-2  # G's gradient norm below this fraction of its peak has vanished
AHEAD_GAP = 0.2  # D(x) - D(G(z)) from which a vanished G gradient is blamed on D
COLLAPSE_DIVERSITY = 0.5  # G's mean pairwise distance below half the data's
COLLAPSE_COVERAGE = 0.5  # at most half of the modes / classes reached
RECOVERY = 1.1  # diversity growing by more than 10% over the window: G is still spreading out
REACH_SHARE = 0.1  # a mode or class is reached with >= 10% of its fair share of samples
OSC_WINDOW = 10  # records over which non-convergence is judged
OSC_SPREAD = 0.25  # std / (|mean| + 0.1) of G's loss over the window: "oscillating"
PROGRESS_TOL = 0.05  # relative improvement of the tracked metric that counts as progress

REMEDIES = {
    "discriminator_wins": (
        "D overpowers G: lower train.lr_d or raise train.lr_g, use train.d_steps=1, add "
        "tricks.label_smoothing=0.1 or tricks.instance_noise=0.1, or use train.loss=wgan-gp / "
        "hinge with tricks.spectral_norm=true"
    ),
    "vanishing_gradient": (
        "G's gradient vanished while D cannot tell real from fake (D(x) ~ D(G(z))), so G gets "
        "no signal; D has not won. If the samples look right this is the equilibrium D = 1/2 "
        "(Goodfellow et al. 2014, Prop. 1), often reached as train.lr_decay ends a run; if "
        "not, the game stalled: raise train.lr_g / train.lr_d, check that the data is scaled "
        "to about [-1, 1], or use train.loss=lsgan or wgan-gp"
    ),
    "mode_collapse": (
        "G covers few modes: add tricks.pack=4 (PacGAN), tricks.unrolled_steps=5, or "
        "tricks.minibatch_disc=true, or use train.loss=wgan-gp; see preset toy-ring-best"
    ),
    "non_convergence": (
        "the game oscillates without progress: lower both learning rates, add train.ema=0.999, "
        "tricks.spectral_norm=true or tricks.r1_weight=10, or use two time-scales "
        "(train.lr_d=4e-4 train.lr_g=1e-4)"
    ),
    "nan": (
        "a loss or gradient became non-finite: `gankit resume RUN --set train.lr_d=...` "
        "(and/or train.lr_g) continues from the last good checkpoint (or step 0) at a lower "
        "rate; also check the data's scaling, or train anew with tricks.spectral_norm=true"
    ),
}


@dataclass
class Finding:
    kind: str
    step: int
    evidence: dict[str, Any]
    remedy: str

    def summary(self) -> str:
        ev = ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())
        return f"step {self.step}: {self.kind} ({ev}). Remedy: {self.remedy}."


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# --- measurements -------------------------------------------------------------------------------
def mean_pairwise_distance(x: Tensor) -> float:
    """Mean Euclidean distance between distinct rows of (N, D) ``x``."""
    n = x.shape[0]
    return float(torch.cdist(x, x).sum() / (n * (n - 1)))


def within_class_diversity(x: Tensor, labels: Tensor) -> float | None:
    """Mean over classes (with at least two rows) of the mean pairwise distance inside the
    class: low when a conditional G draws one image per class whatever its noise, a collapse
    that the diversity over all classes does not show. None if no class has two rows."""
    per_class = [
        mean_pairwise_distance(x[labels == k]) for k in labels.unique() if (labels == k).sum() > 1
    ]
    return sum(per_class) / len(per_class) if per_class else None


def reached(assignments: np.ndarray, k: int) -> int:
    """How many of k groups get at least REACH_SHARE of their fair share of the samples."""
    counts = np.bincount(assignments, minlength=k)
    return int((counts >= max(1.0, REACH_SHARE * len(assignments) / k)).sum())


def gradient_norm(module: torch.nn.Module) -> float | None:
    """||grad||_2 over the parameters with a gradient (those of the last update), or None."""
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    if not grads:
        return None
    return float(torch.linalg.vector_norm(torch.cat(grads)))


# --- detectors: pure functions of the records ---------------------------------------------------
def _run_of(records: list[dict], symptom, patience: int) -> tuple[dict, dict] | None:
    """(first, last) record of the first run of ``patience`` consecutive symptomatic records."""
    streak: list[dict] = []
    for r in records:
        if symptom(r):
            streak.append(r)
            if len(streak) >= patience:
                return streak[0], streak[-1]
        else:
            streak = []
    return None


def detect_discriminator_wins(
    records: list[dict], loss: str, opts: DiagnoseConfig
) -> Finding | None:
    peak = {"g": 0.0}

    def confident(r: dict) -> bool:
        if "D(x)" in r and "D(G(z))" in r:
            return (
                r["D(x)"] > WIN_D_REAL
                and r["D(G(z))"] < WIN_D_FAKE
                and r.get("loss/d_adv", 0.0) < WIN_D_LOSS
            )
        if loss == "lsgan" and "critic(x)" in r:  # LSGAN's 0-1 coding: the same targets
            return r["critic(x)"] > WIN_D_REAL and r["critic(G(z))"] < WIN_D_FAKE
        if loss == "hinge":
            return r.get("loss/d_adv", math.inf) < WIN_HINGE_LOSS
        return False

    def vanished(r: dict) -> bool:
        g = r.get("diag/grad_norm_G")
        if g is None:
            return False
        peak["g"] = max(peak["g"], g)
        return peak["g"] > 0 and g < GRAD_VANISH * peak["g"]

    found = _run_of(records, lambda r: confident(r) | vanished(r), opts.patience)
    if found is None:
        return None
    first, last = found
    run = [r for r in records if first["step"] <= r["step"] <= last["step"]]
    kind = "discriminator_wins"
    if not any(confident(r) for r in run) and not any(_d_ahead(r) for r in run):
        # G's gradient vanished but D cannot tell real from fake either (D(x) ~ D(G(z))):
        # the game has stalled; calling that a winning D would send the user the wrong way
        kind = "vanishing_gradient"
    keys = (
        "D(x)",
        "D(G(z))",
        "critic(x)",
        "critic(G(z))",
        "loss/d_adv",
        "loss/g_adv",
        "diag/grad_norm_G",
    )
    evidence = {k: round(last[k], 4) for k in keys if isinstance(last.get(k), float)}
    if peak["g"]:
        evidence["peak_grad_norm_G"] = round(peak["g"], 4)
    evidence["since_step"] = first["step"]
    return Finding(kind, int(last["step"]), evidence, REMEDIES[kind])


def _d_ahead(r: dict) -> bool:
    """D separates the two clearly (its mean outputs at least AHEAD_GAP apart)."""
    for real, fake in (("D(x)", "D(G(z))"), ("critic(x)", "critic(G(z))")):
        if real in r and fake in r:
            return r[real] - r[fake] >= AHEAD_GAP
    return False


def detect_mode_collapse(records: list[dict], opts: DiagnoseConfig) -> Finding | None:
    """``patience`` consecutive records after the warm-up with G's diversity below
    COLLAPSE_DIVERSITY of the data's, or at most COLLAPSE_COVERAGE of the modes / classes
    reached, and not recovering over those records (a G still spreading out is not
    collapsing)."""

    def div(r: dict) -> float | None:  # the lower of the overall and within-class values
        values = [r[k] for k in ("diag/diversity", "diag/diversity_in_class") if k in r]
        return min(values) if values else None

    def few(r: dict) -> str | None:
        for what in ("modes", "classes"):
            got = r.get(f"diag/{what}_reached")
            if got is not None and got <= COLLAPSE_COVERAGE * r[f"diag/{what}_total"]:
                return f"diag/{what}_reached"
        return None

    for end in range(opts.patience, len(records) + 1):
        window = records[end - opts.patience : end]
        first, last = window[0], window[-1]
        if first["step"] < opts.warmup:
            continue
        low = all(div(r) is not None and div(r) < COLLAPSE_DIVERSITY for r in window)
        low = low and div(last) <= RECOVERY * div(first)
        key = few(last)
        narrow = key is not None and all(few(r) for r in window)
        narrow = narrow and last[key] <= first.get(key, math.inf)
        if not (low or narrow):
            continue
        evidence: dict[str, Any] = {}
        for k in (
            "diag/diversity",
            "diag/diversity_in_class",
            "diag/modes_reached",
            "diag/modes_total",
            "diag/modes",
            "diag/high_quality",
            "diag/classes_reached",
            "diag/classes_total",
        ):
            if last.get(k) is not None:
                evidence[k.removeprefix("diag/")] = last[k]
        for key in ("diag/diversity", "diag/diversity_in_class"):  # each against its own peak
            seen = [r[key] for r in records[:end] if r.get(key) is not None]
            if seen:
                evidence["peak_" + key.removeprefix("diag/")] = round(max(seen), 4)
        evidence["since_step"] = first["step"]
        return Finding("mode_collapse", int(last["step"]), evidence, REMEDIES["mode_collapse"])
    return None


def tracked_metric(record: dict) -> tuple[str, float, bool] | None:
    """(name, value, higher_is_better) of the quality metric to watch in a record: a logged
    metric if there is one, else the toy mode score, else the sample diversity."""
    for k, v in record.items():
        if k.startswith("metric/") and isinstance(v, (int, float)):
            return k, float(v), not any(s in k for s in ("fid", "kid", "kl"))
    if record.get("diag/modes") is not None and record.get("diag/high_quality") is not None:
        score = record["diag/modes"] / record["diag/modes_total"] * record["diag/high_quality"]
        return "modes x high_quality", score, True
    if record.get("diag/diversity") is not None:
        return "diversity", 1.0 - abs(1.0 - record["diag/diversity"]), True
    return None


def detect_non_convergence(records: list[dict], opts: DiagnoseConfig) -> Finding | None:
    """G's loss swinging (relative spread > OSC_SPREAD over OSC_WINDOW records) while the
    tracked metric at the end of the window is no better than at its start or before."""
    late = [r for r in records if r["step"] >= opts.warmup]
    g_key = next((k for k in ("loss/g_adv", "loss/g_fm") if late and k in late[-1]), None)
    if g_key is None:
        return None
    for end in range(OSC_WINDOW, len(late) + 1):
        window = late[end - OSC_WINDOW : end]
        losses = np.array([r.get(g_key, np.nan) for r in window], dtype=float)
        if not np.isfinite(losses).all():
            continue
        spread = float(losses.std() / (abs(losses.mean()) + 0.1))
        if spread <= OSC_SPREAD:
            continue
        metrics = [tracked_metric(r) for r in records if r["step"] <= window[-1]["step"]]
        metrics = [m for m in metrics if m is not None]
        if len(metrics) < 2:
            continue
        name, now, higher = metrics[-1]
        values = [m[1] if higher else -m[1] for m in metrics[:-1]]
        best_before, now_s = max(values), now if higher else -now
        if now_s > best_before + PROGRESS_TOL * max(abs(best_before), 1e-8):
            continue
        evidence = {
            "loss": g_key,
            "loss_spread": round(spread, 4),
            "loss_min": round(float(losses.min()), 4),
            "loss_max": round(float(losses.max()), 4),
            "metric": name,
            "metric_now": round(now, 4),
            "metric_best": round(best_before if higher else -best_before, 4),
            "since_step": window[0]["step"],
        }
        return Finding(
            "non_convergence", int(window[-1]["step"]), evidence, REMEDIES["non_convergence"]
        )
    return None


def detect_nan(records: list[dict]) -> Finding | None:
    for r in records:
        bad = sorted(k for k, v in r.items() if isinstance(v, float) and not math.isfinite(v))
        if bad:
            return Finding("nan", int(r["step"]), {"non_finite": ", ".join(bad)}, REMEDIES["nan"])
    return None


def diagnose_records(records: list[dict], cfg: Config) -> list[Finding]:
    """Every detector on a run's records, in the order the findings happened."""
    opts = cfg.diagnose
    found = [
        detect_nan(records),
        detect_discriminator_wins(records, cfg.train.loss, opts),
        detect_mode_collapse(records, opts),
        detect_non_convergence(records, opts),
    ]
    return sorted((f for f in found if f is not None), key=lambda f: f.step)


# --- the diagnosis file -------------------------------------------------------------------------
def read_diagnosis(run: RunDir) -> list[Finding]:
    path = run.path / DIAGNOSIS_FILE
    try:
        raw = json.loads(path.read_text())
        return [Finding(**f) for f in raw.get("findings", [])]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def write_diagnosis(run: RunDir, findings: list[Finding], step: int) -> Path:
    path = run.path / DIAGNOSIS_FILE
    body = {"step": step, "findings": [asdict(f) for f in findings]}
    atomic_write_bytes(path, json.dumps(body, indent=2, sort_keys=True).encode())
    return path


def merge(*groups: list[Finding]) -> list[Finding]:
    """One finding per kind, the earliest, in order of steps."""
    first: dict[str, Finding] = {}
    for f in (f for g in groups for f in g):
        if f.kind not in first or f.step < first[f.kind].step:
            first[f.kind] = f
    return sorted(first.values(), key=lambda f: f.step)


# --- the callback -------------------------------------------------------------------------------
class Diagnostics(Callback):
    """Measures G at every stats record, runs the detectors, warns once per kind."""

    def __init__(self, trainer: Trainer):
        cfg, data = trainer.cfg, trainer.data
        self.opts = cfg.diagnose
        n = min(self.opts.n_samples, len(data.x))
        if data.kind == "image":
            n = min(n, 256)  # pairwise distances of large images cost n^2 D
        seed = cfg.train.seed
        # Own random streams: diagnosing must not change what training draws.
        gen = torch.Generator(device=trainer.device).manual_seed(seed + 7)
        self.z = trainer.prior.sample(n, gen, trainer.device)
        idx = torch.randperm(len(data.x), generator=torch.Generator().manual_seed(seed + 8))[:n]
        self.real = data.x[idx].flatten(1).float()
        self.real_diversity = mean_pairwise_distance(self.real)
        info = data.info or {}
        self.centers = np.asarray(info["centers"]) if "centers" in info else None
        self.std = info.get("std")
        conditional = getattr(trainer.variant, "conditional", False)
        self.labels = None if data.y is None or conditional else data.y[idx].long().numpy()
        self.num_classes = getattr(data, "num_classes", None)
        # class-conditional G: diversity among samples of the same requested class as well
        sampler = trainer.sampler(ema=False)
        self.grid_labels = sampler.layout.grid_labels(n) if sampler is not None else None
        self.real_in_class = None
        if self.grid_labels is not None and data.y is not None:
            self.real_in_class = within_class_diversity(self.real, data.y[idx].long())
        self.records: list[dict] | None = None  # the run's records so far (read lazily)
        self.findings: list[Finding] = []

    # Callback protocol (gankit.training.callbacks.Callback)
    def on_record(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.records is None:  # on resume: the records before this one, already truncated
            self.records = trainer.run.read_stats()
            self.findings = [f for f in read_diagnosis(trainer.run) if f.step <= trainer.step]
        if self.records and self.records[-1]["step"] >= record["step"]:  # after a rollback
            self.records = [r for r in self.records if r["step"] < record["step"]]
            self.findings = [f for f in self.findings if f.step < record["step"]]
        record.update(self.measure(trainer))
        self.records.append(record)
        new = [
            f
            for f in diagnose_records(self.records, trainer.cfg)
            if f.kind not in {g.kind for g in self.findings}
        ]
        if new:
            for f in new:
                print(f"gankit: warning: {f.summary()}", file=sys.stderr)
            record["finding"] = ",".join(f.kind for f in new)
            self.findings = merge(self.findings, new)
        write_diagnosis(trainer.run, self.findings, trainer.step)

    def on_train_end(self, trainer: Trainer) -> None:
        write_diagnosis(trainer.run, self.findings, trainer.step)

    def on_error(self, trainer: Trainer, exc: Exception) -> None:
        """Training stopped on a non-finite value: record it as a ``nan`` finding."""
        if "non-finite" not in str(exc) and "nan" not in str(exc).lower():
            return
        if self.records is None:
            self.records = trainer.run.read_stats()
            self.findings = read_diagnosis(trainer.run)
        evidence = {"error": str(exc)}
        f = Finding("nan", trainer.step, evidence, REMEDIES["nan"])
        print(f"gankit: warning: {f.summary()}", file=sys.stderr)
        self.findings = merge(self.findings, [f])
        write_diagnosis(trainer.run, self.findings, trainer.step)

    @torch.no_grad()
    def measure(self, trainer: Trainer) -> dict[str, Any]:
        """diag/... values for this record; one device sync, at record time only."""
        G = trainer.sampler(ema=False)  # the trained weights, not their average
        if G is None:  # a variant that draws no samples (a translation pair)
            return {}
        out: dict[str, Any] = {"diag/grad_norm_G": gradient_norm(G.net)}
        fake = G.grid(self.z).flatten(1).float()
        if not torch.isfinite(fake).all():
            return {k: v for k, v in out.items() if v is not None and math.isfinite(v)}
        out["diag/diversity"] = round(mean_pairwise_distance(fake) / self.real_diversity, 4)
        if self.real_in_class:
            in_class = within_class_diversity(fake, self.grid_labels)
            if in_class is not None:
                out["diag/diversity_in_class"] = round(in_class / self.real_in_class, 4)
        if self.centers is not None and self.std is not None:
            from gankit.metrics.modes import mode_coverage

            cov = mode_coverage(fake.numpy(), self.centers, self.std)
            nearest = torch.cdist(fake.double(), torch.from_numpy(self.centers)).argmin(1)
            out["diag/modes"] = cov["modes_captured"]
            out["diag/modes_reached"] = reached(nearest.numpy(), len(self.centers))
            out["diag/modes_total"] = len(self.centers)
            out["diag/high_quality"] = round(cov["high_quality_fraction"], 4)
        if self.labels is not None and self.num_classes:
            # a 1-nearest-neighbour classifier on the real reference samples labels G's samples
            pred = self.labels[torch.cdist(fake, self.real).argmin(1).numpy()]
            out["diag/classes_reached"] = reached(pred, self.num_classes)
            out["diag/classes_total"] = int(self.num_classes)
        return {k: v for k, v in out.items() if v is not None and _finite(v)}


def _finite(v: Any) -> bool:
    return not isinstance(v, float) or math.isfinite(v)
