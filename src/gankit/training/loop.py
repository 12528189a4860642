"""The one training loop (DESIGN principle 2) for every variant.

Per training step, each phase of the variant runs ``repeat`` times in a row (k discriminator
updates, then one generator update: Goodfellow et al. 2014, Algorithm 1). For each update the
loop freezes every network the phase does not train, asks the variant for its named loss
terms, and does zero_grad / backward / step itself. Losses are summed as tensors and read back
only when a stats record is written, so the loop does not wait on the device every step.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit import viz
from gankit.config import Config
from gankit.data import Dataset, load_dataset
from gankit.errors import CheckpointError, ConfigError, GankitError, TrainingError
from gankit.exports import Export, assemble, exports_to_meta
from gankit.networks import network_spec
from gankit.networks.conditional import LatentLayout
from gankit.noise import NoisePrior
from gankit.previews import Preview
from gankit.runs import Generator, RunDir, one_line, prefixed
from gankit.training import distributed, guard, statecheck
from gankit.training.batcher import Batcher
from gankit.training.callbacks import Callback
from gankit.training.checkpoint import optimizer_state, restore_optimizer
from gankit.training.ema import EMA
from gankit.training.precision import Precision
from gankit.training.schedule import lr_decay_factor
from gankit.variants import VARIANTS, Phase, StepContext

# What damaged or crafted checkpoint values raise while being loaded into a trainer.
_STATE_ERRORS = (RuntimeError, KeyError, ValueError, TypeError, IndexError, OverflowError)


def resolve_device(name: str) -> torch.device:
    """train.device as a torch.device; one clear line for a device this machine lacks."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"train.device={name!r} is not a device; use auto, cpu, cuda or cuda:N."
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index or 0) >= count:
            have = f"{count} CUDA device(s)" if count else "no CUDA device (or a CPU-only torch)"
            raise ConfigError(
                f"train.device={name} but this machine has {have}; set train.device=cpu or auto."
            )
    return device


EMA_WINDOW_FRACTION = 0.1  # an average over more than this part of the run mixes early G's


def ema_window_note(decay: float, steps: int) -> str | None:
    """A warning when EMA's window, about 1 / (1 - decay) steps, is a large part of the run:
    the average then mixes generators from before training settled. Measured on toy-ring-best
    (3000 steps, docs/tricks.md): decay 0.999 (a 1000-step window) gave 0/8 modes from a live
    G with 8/8 at 95%; decay 0.99 gave the live G's 8/8 at 95%."""
    window = 1.0 / (1.0 - decay)
    if steps < 100 or window <= EMA_WINDOW_FRACTION * steps:  # (tiny test runs: no advice)
        return None
    shorter = 1.0 - 1.0 / (EMA_WINDOW_FRACTION * steps)
    return (
        f"train.ema={decay} averages G over about {window:.0f} steps, {window / steps:.0%} of "
        f"this {steps}-step run, so the average includes generators from early in training "
        f"(on toy-ring-best that turned 8/8 modes into 0/8); compare `gankit sample --no-ema`, "
        f"or use train.ema <= {shorter:.4g} (a tenth of the run)."
    )


def load_run_data(cfg: Config) -> Dataset:
    d = cfg.data
    return load_dataset(
        d.name,
        root=d.root,
        split=d.split,
        image_size=d.image_size,
        channels=d.channels,
        n_samples=d.n_samples,
        seed=cfg.train.seed,
        download=d.download,
    )


class Trainer:
    """Builds a run from its config and trains it; also resumes it from its last checkpoint."""

    def __init__(self, cfg: Config, run: RunDir, data: Dataset | None = None):
        self.cfg, self.run = cfg, run
        t = cfg.train
        if t.deterministic:
            torch.use_deterministic_algorithms(True)
        torch.manual_seed(t.seed)  # network initialisation
        self.device = resolve_device(t.device)
        self.dist, dist_device = distributed.init(t.device)  # torchrun: one process per rank
        self.device = dist_device or self.device
        self.data = data if data is not None else load_run_data(cfg)
        self.variant = VARIANTS.get(t.variant)()
        if cfg.tricks.diffaugment and self.data.kind != "image":  # before anything is written
            raise ConfigError(
                f"tricks.diffaugment augments images; {self.data.name} is {self.data.kind} "
                "data. Turn it off (tricks.diffaugment=)."
            )
        if self.dist.enabled and not self.variant.ddp_safe:
            raise ConfigError(
                f"variant {t.variant!r} does not support several processes yet; "
                "train it with one process."
            )
        # channels-last helps oneDNN / cuDNN convolutions; it changes no values
        fmt = torch.channels_last if t.channels_last and self.data.kind == "image" else None
        self.nets = {
            k: v.to(self.device, memory_format=fmt) if fmt else v.to(self.device)
            for k, v in self.variant.build(cfg, self.data).items()
        }
        # A phase sees DDP wrappers of the networks it trains and plain modules of the rest.
        wrapped = distributed.wrap(self.nets, self.dist, self.device) if self.dist.enabled else {}
        self.views = distributed.PhaseNets(self.nets, wrapped)
        self.phases: list[Phase] = self.variant.phases(cfg, self.views)
        self.precision = Precision(t.precision, self.device, [p.name for p in self.phases])
        self.optimizers = {
            p.name: torch.optim.Adam(
                [q for m in p.modules for q in self.nets[m].parameters()], lr=p.lr, betas=p.betas
            )
            for p in self.phases
        }
        self.exports: dict[str, Export] = self.variant.exports(cfg, self.data)
        # EMA of named modules, saved as ema.<module>. (train.ema: the decay; 0 = none)
        self.emas = {
            name: EMA(self.nets[name], t.ema) for name in self.variant.ema_modules if t.ema > 0
        }
        if self.emas and self.dist.is_main and (note := ema_window_note(t.ema, t.steps)):
            print(f"gankit: warning: {note}", file=sys.stderr)
        if t.compile:  # in place, after EMA's copy: state_dict keys and checkpoints are unchanged
            for net in self.nets.values():
                net.compile()
        self.prior = NoisePrior(cfg.model.prior, cfg.model.z_dim, cfg.model.prior_df)
        # each rank its own noise stream; rank 0 keeps the single-process stream
        self.noise_rng = torch.Generator(device=self.device).manual_seed(
            t.seed + 1 + 7919 * self.dist.rank
        )
        fixed_rng = torch.Generator(device=self.device).manual_seed(t.seed + 3)
        self.fixed_z = self.prior.sample(cfg.log.n_fixed, fixed_rng, self.device)
        x = distributed.shard(self.data.x, self.dist).to(
            self.device, memory_format=fmt or torch.contiguous_format
        )
        y = None if self.data.y is None else distributed.shard(self.data.y, self.dist)

        def on_device(fields: dict[str, Tensor]) -> dict[str, Tensor]:
            return {k: distributed.shard(v, self.dist).to(self.device) for k, v in fields.items()}

        self.batcher = Batcher(
            x,
            None if y is None else y.to(self.device),
            distributed.per_rank_batch(t.batch_size, self.dist),
            seed=t.seed + 2 + 7919 * self.dist.rank,
            fields=on_device(self.data.fields),
            unpaired=on_device(self.data.unpaired),
            aliases=self.data.aliases,
        )
        self.step = 0
        self._lr_factor = 1.0  # train.lr_decay factor the optimizers' rates include now
        self.last_grid_epoch = -1
        self.callbacks: list[Callback] = []  # metrics, diagnostics, ... (see Callback)
        if cfg.eval.metrics:  # metrics.jsonl every eval.every steps
            from gankit.metrics.callback import MetricsCallback

            self.callbacks.append(MetricsCallback.for_trainer(self))
        if cfg.diagnose.enabled:  # failure-mode findings in stats.jsonl and diagnosis.json
            from gankit.training.diagnostics import Diagnostics

            self.callbacks.append(Diagnostics(self))
        if cfg.log.tensorboard and self.dist.is_main:  # after Diagnostics: sees its keys too
            from gankit.training.tensorboard import TensorBoard

            self.callbacks.append(TensorBoard(run.path))
        self._sums: dict[str, Tensor] = {}  # running sums of logged values since the last record
        self._counts: dict[str, int] = {}
        self.rollbacks = 0  # non-finite updates undone in this session (train.nan_policy)
        check = (
            t.nan_check
            if t.nan_check != "auto"
            else (
                "record" if self.device.type == "cuda" else "step"  # a host sync is free on a CPU
            )
        )
        self.deferred = guard.DeferredCheck() if check == "record" else None

    # --- schedule ------------------------------------------------------------------------
    @property
    def data_batches_per_step(self) -> int:
        return sum(p.repeat for p in self.phases if p.uses_data)

    def steps_for_epochs(self, epochs: float) -> int:
        """Generator steps that make ``epochs`` passes over the data."""
        per_epoch = max(1, self.batcher.batches_per_epoch // max(1, self.data_batches_per_step))
        return max(1, int(math.ceil(epochs * per_epoch)))

    # --- one step ------------------------------------------------------------------------
    def _set_trainable(self, modules: list[str]) -> None:
        for name, net in self.nets.items():
            net.requires_grad_(name in modules)

    def _sample_z(self, n: int) -> Tensor:
        return self.prior.sample(n, self.noise_rng, self.device)

    def train_step(self) -> None:
        self._decay_learning_rates()
        for phase in self.phases:
            if not phase.runs_at(self.step):  # the phase's schedule (every, start, stop, when)
                continue
            self._set_trainable(phase.modules)
            self.views.active = phase.modules
            opt = self.optimizers[phase.name]
            for _ in range(phase.repeat):
                batch = self.batcher.next() if phase.uses_data else {}
                ctx = StepContext(
                    self.nets,
                    batch.get("x"),
                    batch.get("y"),
                    self.batcher.batch_size,  # per process when distributed
                    self.step,
                    self._sample_z,
                    rng=self.noise_rng,  # labels / codes come from the saved noise stream
                    optimizers=self.optimizers,
                    batch=batch,
                )
                opt.zero_grad(set_to_none=True)
                with self.precision.autocast():
                    terms = phase.loss(ctx)
                total = sum(v.float() for v in terms.values())
                self.precision.backward(total, phase.name)
                self.precision.unscale(opt, phase.name)
                # NaN/Inf in the loss or a gradient: raise before the weights move (guard.py),
                # or flag it on the device and raise at the next record / checkpoint
                if self.deferred is None:
                    guard.check_update(phase.name, terms, total, opt, self.step)
                else:
                    self.deferred.add(terms, total, opt, self.step)
                self.precision.step(opt, phase.name)
                if phase.after_step is not None:
                    phase.after_step()
                self._accumulate({f"loss/{k}": v.detach() for k, v in terms.items()})
                self._accumulate(ctx.logs)
        for name, ema in self.emas.items():
            ema.update(self.nets[name])
        self.step += 1

    def _output_due(self, to_step: int) -> bool:
        """Whether a stats record or a checkpoint follows this step (when a deferred
        non-finite check must be read, so that nothing non-finite is written)."""
        log = self.cfg.log
        return (
            self.step % log.stats_every == 0
            or self.step % log.checkpoint_every == 0
            or self.step == to_step
        )

    def _decay_learning_rates(self) -> None:
        """train.lr_decay: rescale every rate by the change of the factor, so that rates
        changed elsewhere (a NaN rollback) keep their own multiplier."""
        t = self.cfg.train
        factor = lr_decay_factor(t.lr_decay, self.step, t.steps)
        if factor != self._lr_factor:
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] *= factor / self._lr_factor
            self._lr_factor = factor

    def _accumulate(self, values: dict[str, Tensor]) -> None:
        for k, v in values.items():
            self._sums[k] = self._sums[k] + v if k in self._sums else v.clone()
            self._counts[k] = self._counts.get(k, 0) + 1

    # --- outputs --------------------------------------------------------------------------
    def _flush_stats(self, elapsed: float, steps_done: int) -> dict[str, Any]:
        # Means over all updates since the last record; the one device sync happens here.
        record: dict[str, Any] = {
            "step": self.step,
            "epoch": round(
                self.batcher.epoch + self.batcher.position / max(1, len(self.batcher.x)), 4
            ),
        }
        means = {k: float(v.item()) / self._counts[k] for k, v in self._sums.items()}
        record.update(distributed.mean_over_ranks(means, self.dist))  # averaged over processes
        bad = [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise TrainingError(
                f"non-finite {', '.join(bad)} by step {self.step}; training stopped and the last "
                "good checkpoint is kept. Lower train.lr_d / train.lr_g or check the data."
            )
        record["sec_per_step"] = elapsed / max(1, steps_done)
        self._sums, self._counts = {}, {}
        if not self.dist.is_main:  # only rank 0 writes the run directory
            return record
        for cb in self.callbacks:
            cb.on_record(self, record)
        self.run.append_stats(record)
        return record

    def model(self, export: str = "sample", ema: bool = True) -> nn.Module | None:
        """The live module behind one of the variant's exports: its EMA copy where one is
        kept and ``ema`` is true; None when the variant has no such export."""
        e = self.exports.get(export)
        if e is None:
            return None

        def one(key: str) -> nn.Module:
            return self.emas[key].module if ema and e.ema and key in self.emas else self.nets[key]

        return assemble(e, one)  # a composite is built anew from the live parts

    def sampler(self, ema: bool = True) -> Generator | None:
        """The run's ``sample`` export as a live Generator (the one sampling path shared with
        `gankit sample`, metrics and diagnostics); None for a variant that draws nothing."""
        e = self.exports.get("sample")
        if e is None:
            return None
        layout = LatentLayout.from_meta(e.layout) if e.layout else None
        return Generator(
            self.model("sample", ema), self.prior, self.data.kind, self.step,
            num_classes=self.data.num_classes if self.variant.conditional else None,
            layout=layout, source=str(self.run.path),
            text_encoder=self.nets[e.condition["encoder"]] if e.condition else None,
        )  # fmt: skip

    @torch.no_grad()
    def write_samples(self) -> None:
        """The variant's preview picture of this step (sample grid, toy frame, translation)."""
        if not self.dist.is_main:
            return
        self.variant.preview(
            Preview(
                step=self.step,
                cfg=self.cfg,
                data=self.data,
                nets=self.nets,
                device=self.device,
                samples_dir=self.run.samples_dir,
                frames_dir=self.run.frames_dir,
                fixed_z=self.fixed_z,
                sampler=self.sampler,
                model=self.model,
            )
        )

    def _grid_due(self) -> bool:
        every = self.cfg.log.sample_every
        if every:
            return self.step % every == 0
        return self.batcher.epochs_done > self.last_grid_epoch

    def write_summary_pictures(self) -> None:
        """GIFs of the grids / frames and the loss plot, all read back from the run directory."""
        if not self.dist.is_main:
            return
        for folder, gif in (
            (self.run.samples_dir, "progress.gif"),
            (self.run.frames_dir, "progress.gif"),
        ):
            frames = sorted(folder.glob("step_*.png")) if folder.is_dir() else []
            if frames:
                viz.save_gif(frames, folder / gif)
        viz.loss_plot(self.run.read_stats(), self.run.path / "losses.png")

    # --- checkpoints ------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors: dict[str, Tensor] = {}
        for name, net in self.nets.items():
            tensors.update({f"{name}.{k}": v for k, v in net.state_dict().items()})
        for name, ema in self.emas.items():
            tensors.update({f"ema.{name}.{k}": v for k, v in ema.module.state_dict().items()})
        opt_meta = {}
        for name, opt in self.optimizers.items():
            t, m = optimizer_state(opt)
            tensors.update({f"opt.{name}.{k}": v for k, v in t.items()})
            opt_meta[name] = m
        batch_meta, batch_tensors = self.batcher.state()
        tensors.update({f"batcher.{k}": v for k, v in batch_tensors.items()})
        tensors.update({f"variant.{k}": v for k, v in self.variant.state().items()})
        tensors["rng.noise"] = self.noise_rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":  # dropout on the GPU draws from the device's generator
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        # sums since the last stats record, so a resumed run logs the same means
        tensors.update({f"stats_sum.{k}": v for k, v in self._sums.items()})
        meta = {
            "config": self.cfg.to_dict(),
            "networks": {k: network_spec(v) for k, v in self.nets.items()},
            "optimizers": opt_meta,
            "batcher": batch_meta,
            "last_grid_epoch": self.last_grid_epoch,
            "data_kind": self.data.kind,
            "data_shape": list(self.data.shape),
            "num_classes": self.data.num_classes if self.variant.conditional else None,
            "data_fingerprint": self.data.fingerprint(),
            "stats_counts": dict(self._counts),
            "exports": exports_to_meta(self.exports),  # what sample / apply load (exports.py)
            "ema_modules": sorted(self.emas),
        }
        return tensors, meta

    def save_checkpoint(self) -> Path | None:
        """Every rank takes part (states are gathered); rank 0 alone writes the file."""
        distributed.broadcast_buffers(self.nets, self.dist)
        tensors, meta = self.state()
        self._add_rank_states(tensors, meta)
        if not self.dist.is_main:
            return None
        # weights, EMA, BatchNorm statistics, optimizer moments, trick state: all must be finite
        bad = guard.non_finite_names(tensors)
        if bad:
            raise TrainingError(
                f"{', '.join(bad[:3])} non-finite at step {self.step}; not overwriting the last "
                "good checkpoint. Lower train.lr_d / train.lr_g."
            )
        return self.run.save_checkpoint(self.step, tensors, meta, self.cfg.log.keep_checkpoints)

    def _add_rank_states(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        """With N processes, every rank's noise stream and data position (rank r > 0 under
        ``rank<r>.``), so that a resumed run continues each rank exactly."""
        meta["world_size"] = self.dist.world_size
        if not self.dist.enabled:
            return
        batch_meta, batch_tensors = self.batcher.state()
        mine = {
            "rng.noise": self.noise_rng.get_state().cpu(),
            "batcher_meta": batch_meta,
            **{f"batcher.{k}": v.cpu() for k, v in batch_tensors.items()},
        }
        ranks = distributed.gather_states(mine, self.dist)
        meta["rank_batchers"] = {str(r): st.pop("batcher_meta") for r, st in enumerate(ranks)}
        for r, st in enumerate(ranks[1:], start=1):
            tensors.update({f"rank{r}.{k}": v for k, v in st.items()})

    def _select_rank_state(
        self, tensors: dict[str, Tensor], meta: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        saved = int(meta.get("world_size", 1))
        if saved != self.dist.world_size:
            raise CheckpointError(
                f"this checkpoint was written by {saved} process(es); resume it with the same "
                f"number (torchrun --nproc_per_node={saved}), not {self.dist.world_size}."
            )
        if self.dist.rank == 0:
            return tensors, meta
        mine = prefixed(tensors, f"rank{self.dist.rank}")
        return {**tensors, **mine}, {**meta, "batcher": meta["rank_batchers"][str(self.dist.rank)]}

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, Any], step: int) -> None:
        # A checkpoint may come from a stranger: every part is checked (statecheck.py) and any
        # mismatch is one CheckpointError now rather than a crash deep inside training.
        try:
            tensors, meta = self._select_rank_state(tensors, meta)
            for name, net in self.nets.items():
                net.load_state_dict(prefixed(tensors, name))
            for name, ema in self.emas.items():
                ema.module.load_state_dict(prefixed(tensors, f"ema.{name}"))
            for name, opt in self.optimizers.items():
                statecheck.check_optimizer_meta(opt, meta["optimizers"][name])
                restore_optimizer(opt, prefixed(tensors, f"opt.{name}"), meta["optimizers"][name])
                statecheck.check_optimizer_state(opt)
            self.variant.load_state(prefixed(tensors, "variant"))
            batch = prefixed(tensors, "batcher")
            statecheck.check_batcher_state(meta["batcher"], batch, len(self.batcher.x))
            self.batcher.restore(meta["batcher"], batch)
            self.noise_rng.set_state(tensors["rng.noise"].to(torch.uint8))
            torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
            if self.device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"].to(torch.uint8), self.device)
            sums = prefixed(tensors, "stats_sum")
            self._counts = statecheck.check_stats_sums(meta.get("stats_counts", {}), sums)
            self._sums = {k: v.to(self.device) for k, v in sums.items()}
            self.last_grid_epoch = int(meta.get("last_grid_epoch", -1))
        except _STATE_ERRORS as exc:
            raise CheckpointError(
                f"the checkpoint does not match this run ({one_line(exc)}); resume it with the "
                "gankit version and data that wrote it."
            ) from None
        self.step = step
        # the restored rates include the decay factor of the last step trained
        self._lr_factor = lr_decay_factor(self.cfg.train.lr_decay, step - 1, self.cfg.train.steps)

    # --- the loop ---------------------------------------------------------------------------
    def train(self, to_step: int) -> dict[str, Any]:
        """Train until ``self.step == to_step``; returns the last stats record."""
        log = self.cfg.log
        if self.step == 0 and to_step > 0:
            self.write_samples()  # the untrained generator: first frame of the progress figure
            self.last_grid_epoch = self.batcher.epochs_done
        bar = None
        if log.progress and self.dist.is_main and to_step > self.step:
            from tqdm import tqdm

            bar = tqdm(
                total=to_step,
                initial=self.step,
                desc=self.cfg.preset,
                unit="step",
                file=sys.stderr,
                mininterval=0.5,
                dynamic_ncols=True,
            )
        record: dict[str, Any] = {}
        t0, steps_since = time.perf_counter(), 0
        if self.dist.is_main:
            self.run.set_status(None)  # a stale "finished" / "failed" from an earlier session
        guard.ensure_rollback_point(self)
        # SIGINT / SIGTERM only set stop.signum while training; the loop stops between steps
        stop = guard.StopSignals()
        try:
            stop.__enter__()  # inside the try: the finally below always restores the handlers
            while self.step < to_step:
                try:
                    self.train_step()
                    if self.deferred is not None and self._output_due(to_step):
                        self.deferred.raise_if_bad(self.step)
                except guard.NonFiniteUpdate as exc:
                    if self.deferred is not None:
                        self.deferred.reset()
                    guard.recover(self, exc)  # raises, or rolls back to the newest checkpoint
                    t0, steps_since = time.perf_counter(), 0
                    if bar is not None:
                        bar.n = self.step
                    continue
                steps_since += 1
                last = self.step == to_step
                if self.step % log.stats_every == 0 or last:
                    record = self._flush_stats(time.perf_counter() - t0, steps_since)
                    t0, steps_since = time.perf_counter(), 0
                    if bar is not None:
                        bar.set_postfix(
                            {
                                k.removeprefix("loss/"): f"{v:.3f}"
                                for k, v in record.items()
                                if k.startswith(("loss/", "D("))
                            }
                        )
                if self._grid_due() or last:
                    self.write_samples()
                    self.last_grid_epoch = self.batcher.epochs_done
                saved = self.step % log.checkpoint_every == 0 or last
                if saved:
                    self.save_checkpoint()
                if bar is not None:
                    bar.update(1)
                # with several processes all ranks must stop at the same step (the checkpoint
                # is a collective), so they agree on the flag: one small all-reduce per step on
                # CPUs; on GPUs only when output is due, as the read-back would sync the host
                cuda_ddp = self.dist.enabled and self.device.type == "cuda"
                agree = not cuda_ddp or self._output_due(to_step)
                if agree and distributed.any_rank(stop.requested, self.dist) and not last:
                    if not saved:
                        self.save_checkpoint()
                    # a rank that saw no signal itself stops as if told by SIGTERM
                    raise guard.TrainingStopped(
                        self.step, self.run.path, stop.signum or signal.SIGTERM
                    )
        except guard.TrainingStopped as exc:  # a checkpoint was written: resumable, not failed
            self._declare("stopped", str(exc))
            raise
        except TrainingError as exc:
            for cb in self.callbacks:  # duck-typed callbacks may lack on_error
                if hasattr(cb, "on_error"):
                    cb.on_error(self, exc)
            self._declare("failed", f"step {self.step}: {exc}")
            raise
        finally:
            stop.__exit__()
            if bar is not None:
                bar.close()
        for cb in self.callbacks:
            cb.on_train_end(self)
        self.write_summary_pictures()
        if self.step >= self.cfg.train.steps:  # a shorter train(to_step) is not the end
            self._declare("finished", f"reached step {self.step}")
        return record

    def _declare(self, status: str, reason: str) -> None:
        if self.dist.is_main:
            with contextlib.suppress(GankitError):  # a full disk must not hide the real error
                self.run.set_status(status, reason)
