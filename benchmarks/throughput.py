"""DCGAN training-step throughput: gankit's loop against a plain textbook PyTorch loop.

Both sides use the same networks (same constructor, same initial weights), batch size,
optimizer (Adam, lr 2e-4, betas (0.5, 0.999)) and algorithm (Goodfellow et al. 2014,
Algorithm 1 with k=1: D on a real batch and G(z) under no_grad, then G on fresh noise with
the non-saturating loss). They run in the same process, alternating in rounds so that
machine noise hits both alike; the ratio of medians is printed.

    python benchmarks/throughput.py                     # widths-64 DCGAN 28x28 (dcgan-mnist)
    python benchmarks/throughput.py --preset dcgan-folder --image-size 64 --channels 3

With ``--variants P1,P2,...`` it instead times one training step of each preset's variant
(its own networks, batch size and phases) on synthetic labelled 28x28 data, and prints
training images per second, the FLOPs of a step and the achieved FLOP/s, each as a ratio to
the first preset (e.g. ``--variants dcgan-fashion,sagan-fashion,transgan-fashion,
lapgan-fashion``: the architectures of issue 16 against DCGAN on the same CPU).
"""

from __future__ import annotations

import argparse
import copy
import resource
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from gankit.data import Dataset
from gankit.presets import preset_config
from gankit.runs import RunDir
from gankit.training.loop import Trainer


def plain_loop(G, D, data, batch_size, z_dim, lr=2e-4, betas=(0.5, 0.999)):
    """The textbook loop: what a user writes by hand. Returns a closure doing one step.
    ``data`` lives on the networks' device (the dataset resident there, as gankit keeps it)."""
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    n = len(data)
    dev = data.device
    state = {"perm": torch.randperm(n, device=dev), "pos": 0}

    def step():
        if state["pos"] + batch_size > n:
            state["perm"], state["pos"] = torch.randperm(n, device=dev), 0
        idx = state["perm"][state["pos"] : state["pos"] + batch_size]
        state["pos"] += batch_size
        real = data[idx]
        # D step: ascend log D(x) + log(1 - D(G(z)))
        opt_d.zero_grad()
        with torch.no_grad():
            fake = G(torch.randn(batch_size, z_dim, device=dev))
        lr_, lf = D(real), D(fake)
        d_loss = F.binary_cross_entropy_with_logits(
            lr_, torch.ones_like(lr_)
        ) + F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
        d_loss.backward()
        opt_d.step()
        # G step: descend -log D(G(z)) on fresh noise
        opt_g.zero_grad()
        lf = D(G(torch.randn(batch_size, z_dim, device=dev)))
        g_loss = F.binary_cross_entropy_with_logits(lf, torch.ones_like(lf))
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()  # the textbook loop reads losses every step

    return step


def matmul_peak_flops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """The device's measured fp32 matrix-multiply rate (FLOP/s): the ceiling to compare to."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def step_flops(step) -> int:
    """FLOPs of one training step (forward + backward), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def variant_rows(presets: list[str], args) -> None:
    """Per-step time, images/s and FLOP/s of each preset's training step, same machine."""
    n = 2048
    x = torch.rand(n, args.channels, args.image_size, args.image_size) * 2 - 1
    y = torch.randint(0, 10, (n,))
    data = Dataset(x=x, y=y, kind="image", name="synthetic", class_names=list("0123456789"))
    rows = []
    for preset in presets:
        over = {
            "data.name": "digits",
            "log.progress": False,
            "log.stats_every": 50,
            "log.checkpoint_every": 10**9,
            "log.sample_every": 10**9,
            "diagnose.enabled": False,
            "eval.metrics": "",
        }
        for kv in args.set:
            key, _, value = kv.partition("=")
            over[key] = value
        cfg = preset_config(preset, over)
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(cfg, RunDir.create(f"{tmp}/run", cfg), data=data)
            for _ in range(2):  # warm-up
                trainer.train_step()
            times = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step()
                times.append((time.perf_counter() - t0) / args.steps)
            flops = step_flops(trainer.train_step)
        sec = statistics.median(times)
        rows.append((preset, cfg.train.variant, cfg.train.batch_size, sec, flops))
    base_ips = rows[0][2] / rows[0][3]
    print(
        f"{args.image_size}x{args.image_size}x{args.channels}, {torch.get_num_threads()} "
        f"threads, median of {args.rounds} rounds of {args.steps} steps; ratios to {rows[0][0]}"
    )
    print(f"{'preset':<18}{'variant':<10}{'batch':>6}{'ms/step':>9}{'img/s':>8}{'ratio':>7}"
          f"{'GFLOP/step':>12}{'GFLOP/s':>9}")  # fmt: skip
    for preset, variant, batch, sec, flops in rows:
        ips = batch / sec
        print(
            f"{preset:<18}{variant:<10}{batch:>6}{sec * 1000:>9.1f}{ips:>8.0f}"
            f"{ips / base_ips:>7.2f}{flops / 1e9:>12.3f}{flops / sec / 1e9:>9.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--variants",
        default="",
        help="comma list of presets: time each one's training step instead (see above)",
    )
    # dcgan-mnist keeps the textbook widths 64 (dcgan-fashion is tuned down to widths 32)
    ap.add_argument("--preset", default="dcgan-mnist")
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10, help="steps per timed round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides for the gankit side, e.g. train.precision=bf16",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.variants:
        variant_rows([p.strip() for p in args.variants.split(",") if p.strip()], args)
        return

    n = args.batch_size * 20
    x = torch.rand(n, args.channels, args.image_size, args.image_size) * 2 - 1
    data = Dataset(x=x, y=None, kind="image", name="synthetic")
    cfg = preset_config(
        args.preset,
        {
            "data.name": "digits",
            "train.batch_size": args.batch_size,
            "train.ema": 0.0,  # the plain loop keeps no EMA
            "log.progress": False,
            "log.stats_every": 50,
            "log.checkpoint_every": 10**9,
            "log.sample_every": 10**9,
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, RunDir.create(f"{tmp}/run", cfg), data=data)
        G, D = copy.deepcopy(trainer.nets["G"]), copy.deepcopy(trainer.nets["D"])
        dev = trainer.device
        plain = plain_loop(G, D, x.to(dev), args.batch_size, cfg.model.z_dim)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

        def lib_round():
            for _ in range(args.steps):
                trainer.train_step()
                if trainer.step % cfg.log.stats_every == 0:  # the loop's own read-back
                    trainer._flush_stats(0.0, cfg.log.stats_every)

        def plain_round():
            for _ in range(args.steps):
                plain()

        for fn in (lib_round, plain_round):  # warm-up
            fn()
        t_lib, t_plain = [], []
        for _ in range(args.rounds):
            for fn, out in ((lib_round, t_lib), (plain_round, t_plain)):
                sync()
                t0 = time.perf_counter()
                fn()
                sync()  # GPU work is asynchronous: time it to its end
                out.append((time.perf_counter() - t0) / args.steps)
        flops = step_flops(plain)
    peak = matmul_peak_flops(dev)
    lib, base = statistics.median(t_lib), statistics.median(t_plain)
    imgs = args.batch_size * 3  # images through D per step: real + fake (D step) + fake (G)
    name = f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""
    print(f"device: {dev}{name}")
    print(
        f"DCGAN {args.image_size}x{args.image_size}x{args.channels}, batch {args.batch_size}, "
        f"{torch.get_num_threads()} threads, {args.rounds} rounds of {args.steps} steps"
    )
    print(f"  plain loop : {base * 1000:7.1f} ms/step  ({imgs / base:7.0f} img/s through D)")
    print(f"  gankit     : {lib * 1000:7.1f} ms/step  ({imgs / lib:7.0f} img/s through D)")
    print(f"  speed ratio gankit / plain = {base / lib:.3f}x")
    print(
        f"  one step = {flops / 1e9:.2f} GFLOP; gankit achieves {flops / lib / 1e9:.1f} GFLOP/s, "
        f"{100 * flops / lib / peak:.0f}% of the measured fp32 matmul peak "
        f"({peak / 1e9:.0f} GFLOP/s)"
    )
    if dev.type == "cuda":
        print(f"  peak GPU memory: {torch.cuda.max_memory_allocated(dev) / 2**20:.0f} MiB")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident memory of this process: {peak_rss:.0f} MiB")


if __name__ == "__main__":
    main()
