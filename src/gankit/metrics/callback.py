"""A training callback that scores the generator every ``eval.every`` steps into
``RUN/metrics.jsonl`` (one JSON object per line, with its ``step``).

It is duck-typed against the training loop's ``Callback`` (``on_record`` / ``on_train_end``)
so that this package never imports ``gankit.training``. From the trainer it reads only
``cfg``, ``run``, ``step`` and ``sampler()`` (the run's sample export as a Generator, with the
EMA weights when they are kept): the same sampling path as `gankit sample`.

Sampling uses its own seeded generator: evaluating never draws from the training noise
stream or the global RNG, so a run with metrics trains exactly like one without.
"""

from __future__ import annotations

import json
from typing import Any

import torch

from gankit.config import Config
from gankit.errors import ConfigError
from gankit.metrics.evaluate import Evaluator, load_reference, parse_metrics, resolve_extractor
from gankit.runs import atomic_write_bytes

METRICS_FILE = "metrics.jsonl"
#: Offset of the evaluation noise seed from train.seed (the loop uses +1..+4).
SEED_OFFSET = 5
SAMPLE_BATCH = 500


class MetricsCallback:
    """Scores ``n`` fresh samples every ``every`` steps (0: only when training ends)."""

    def __init__(self, cfg: Config, kind: str, device: torch.device | str = "cpu"):
        e = cfg.eval
        self.metrics = parse_metrics(e.metrics)
        if self.metrics is None:
            raise ConfigError("eval.metrics is empty; set e.g. eval.metrics=fid,kid")
        if e.every < 0 or e.n < 2:
            raise ConfigError(f"need eval.every >= 0 and eval.n >= 2, got {e.every}, {e.n}")
        if e.every % cfg.log.stats_every:
            # The loop calls back when it writes a stats record, every log.stats_every steps.
            raise ConfigError(
                f"eval.every={e.every} must be a multiple of "
                f"log.stats_every={cfg.log.stats_every} (or 0: at the end only)"
            )
        self.cfg, self.every, self.n = cfg, e.every, e.n
        self.seed = cfg.train.seed + SEED_OFFSET
        # Resolved now, so a missing domain classifier stops the run before step 1 (a run
        # does not start a second, unasked-for training; `gankit eval` prepares one itself).
        name = cfg.data.name
        self.extractor = resolve_extractor(e.extractor, kind, name, device, train_missing=False)
        self._evaluator: Evaluator | None = None
        self._last_step: int | None = None
        self._truncated = False

    @classmethod
    def for_trainer(cls, trainer: Any) -> MetricsCallback:
        if trainer.sampler() is None:  # refused before step 1, not at the first evaluation
            raise ConfigError(
                f"eval.metrics needs a generator to sample from; variant "
                f"{trainer.cfg.train.variant!r} exports none. Set eval.metrics= (empty)."
            )
        return cls(trainer.cfg, trainer.data.kind, trainer.device)

    # --- the Callback protocol ------------------------------------------------------------------
    def on_record(self, trainer: Any, record: dict[str, Any]) -> None:
        if self.every and trainer.step % self.every == 0:
            self.evaluate(trainer)

    def on_train_end(self, trainer: Any) -> None:
        if self._last_step != trainer.step:
            self.evaluate(trainer)

    # --- work ------------------------------------------------------------------------------------
    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            ref = load_reference(self.cfg.eval.reference or None, self.cfg, self.n)
            self._evaluator = Evaluator(ref, self.extractor, self.metrics, n=self.n)
        return self._evaluator

    def sample(self, trainer: Any) -> torch.Tensor:
        """``n`` samples of the run's sampler (EMA weights where kept), with labels / codes
        drawn from their priors, from this callback's own seed."""
        return trainer.sampler().sample(self.n, seed=self.seed, batch_size=SAMPLE_BATCH)

    def evaluate(self, trainer: Any) -> dict[str, Any]:
        record = {"step": trainer.step, **self.evaluator.score(self.sample(trainer))}
        self._write(trainer.run.path / METRICS_FILE, record)
        self._last_step = trainer.step
        return record

    def _write(self, path, record: dict[str, Any]) -> None:
        if not self._truncated and path.exists():
            # A resumed run replays the steps after its checkpoint: drop their old records.
            kept = []
            for line in path.read_text().splitlines():
                try:
                    if json.loads(line).get("step", 0) < record["step"]:
                        kept.append(line + "\n")
                except (json.JSONDecodeError, AttributeError):
                    continue
            atomic_write_bytes(path, "".join(kept).encode())
        self._truncated = True
        with open(path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
