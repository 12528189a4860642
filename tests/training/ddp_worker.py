"""Run by torchrun in tests: train a tiny run with N processes, then compare every rank's
weights with rank 0's and write the verdict to RESULT (rank 0 only)."""

import json
import sys

import torch
import torch.distributed as dist

from gankit.presets import preset_config
from gankit.runs import RunDir
from gankit.training import distributed
from gankit.training.loop import Trainer


def main() -> None:
    out, result, steps, preset, *overrides = sys.argv[1:]
    cfg = preset_config(preset, overrides)
    rank = int(__import__("os").environ["RANK"])
    run = RunDir.create(out, cfg) if rank == 0 else RunDir(out)
    trainer = Trainer(cfg, run)
    trainer.train(int(steps))
    flat = torch.cat(
        [
            v.detach().float().flatten()
            for name, net in sorted(trainer.nets.items())
            for v in net.state_dict().values()
            if v.is_floating_point()
        ]
    )
    gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    if rank == 0:
        diffs = [float((g - flat).abs().max()) for g in gathered]
        with open(result, "w") as f:
            json.dump(
                {
                    "world_size": dist.get_world_size(),
                    "max_abs_diff": diffs,
                    "identical": all(torch.equal(g, flat) for g in gathered),
                },
                f,
            )
    distributed.finish()


if __name__ == "__main__":
    main()
