"""Multi-process training on PyTorch's own engine: torch.distributed + DistributedDataParallel.

Launched by ``torchrun --nproc_per_node=N -m gankit train ...``: torchrun sets RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address; we pick gloo on CPU and NCCL on GPU.

Design:
- G and D get separate DDP wrappers. A phase calls the wrappers of the networks it trains
  (their gradients are averaged across processes) and the plain modules of the others, so
  that, e.g., the generator step backpropagates through a local D without DDP expecting
  gradients for D's frozen parameters.
- ``train.batch_size`` stays the global batch: each of N processes draws batch_size / N
  items from its own shard of the data, with its own noise stream.
- Only rank 0 writes the run directory; stats are averaged over ranks before logging, and
  each rank's RNG and data position are gathered into the checkpoint so a resumed run
  continues exactly with the same number of processes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """What torchrun told this process (a single process when not launched by it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(device_pref: str) -> tuple[DistInfo, torch.device | None]:
    """Join the process group if launched with several processes.

    Returns the info and, in distributed mode, the device this rank must use.
    """
    info = env_info()
    if not info.enabled:
        return info, None
    cuda = device_pref != "cpu" and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(info.local_rank)
        return info, torch.device("cuda", info.local_rank)
    return info, torch.device("cpu")


def per_rank_batch(batch_size: int, info: DistInfo) -> int:
    if batch_size % info.world_size:
        raise ConfigError(
            f"train.batch_size={batch_size} must be divisible by the {info.world_size} "
            "processes (it is the global batch); change it or --nproc_per_node."
        )
    return batch_size // info.world_size


def shard(x: Tensor, info: DistInfo) -> Tensor:
    """This rank's disjoint, equal-sized share of the data (the remainder is dropped)."""
    n = len(x) // info.world_size * info.world_size
    return x[info.rank : n : info.world_size]


def wrap(nets: dict[str, nn.Module], info: DistInfo, device: torch.device) -> dict[str, nn.Module]:
    """One DDP wrapper per network (parameters are broadcast from rank 0 on construction)."""
    ids = [device.index] if device.type == "cuda" else None
    return {
        name: nn.parallel.DistributedDataParallel(net, device_ids=ids)
        for name, net in nets.items()
        if any(p.requires_grad for p in net.parameters())
    }


class PhaseNets(dict):
    """The networks as the running phase sees them: the DDP wrapper of each network the phase
    trains (``active``), the plain module of every other. Without DDP it is the plain dict.

    Variants keep this one mapping and look networks up at call time, so the loop switches
    what they get by setting ``active``; iteration and ``items()`` give the plain modules.
    """

    def __init__(self, raw: dict[str, nn.Module], wrapped: dict[str, nn.Module]):
        super().__init__(raw)
        self.wrapped = wrapped
        self.active: list[str] = []

    def __getitem__(self, key: str) -> nn.Module:
        if key in self.active and key in self.wrapped:
            return self.wrapped[key]
        return super().__getitem__(key)


def _collective_device() -> torch.device:
    """Where small host values must live to be reduced: NCCL only takes CUDA tensors."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mean_over_ranks(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t)
    return {k: float(v) / info.world_size for k, v in zip(keys, t.tolist())}


def broadcast_buffers(nets: dict[str, nn.Module], info: DistInfo) -> None:
    """Make BatchNorm running statistics identical on every rank (rank 0's), e.g. before a
    checkpoint: a plain-module forward in another phase updates them locally."""
    if not info.enabled:
        return
    for net in nets.values():
        for b in net.buffers():
            dist.broadcast(b, src=0)


def gather_states(state: dict[str, Any], info: DistInfo) -> list[dict[str, Any]]:
    """Every rank's (small) RNG / data-position state, on every rank."""
    if not info.enabled:
        return [state]
    out: list[Any] = [None] * info.world_size
    # Objects travel inside our own process group only; nothing here reads untrusted data.
    dist.all_gather_object(out, state)
    return out


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank if ``flag`` is true on any (e.g. a stop signal seen by one rank)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def finish(ok: bool = True) -> None:
    """Leave the process group at the end of a torchrun process (the CLI calls this; call it
    yourself after ``gankit.train`` in a script launched by torchrun).

    Why not just exit: gloo's worker threads free finished collectives, and with them tensors
    that only the collective still holds, which needs the GIL; ProcessGroupGloo's destructor
    joins those threads while holding the GIL. If the group is destroyed (at interpreter exit,
    when the DDP wrappers go) while a worker is still waiting for the GIL, the process
    deadlocks: training finished, the rank never exits. A barrier makes every earlier
    collective complete, and a short sleep releases the GIL so the workers finish freeing
    them before the group goes. With ``ok=False`` (this rank failed) the barrier is skipped:
    the other ranks may never reach it.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if ok:
        dist.barrier()
    time.sleep(0.1)
    dist.destroy_process_group()
    time.sleep(0.1)
