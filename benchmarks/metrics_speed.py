"""Speed of FID + KID + precision/recall for 10,000 28x28 samples with the domain extractor.

End to end through ``gankit.metrics.evaluate`` (what ``gankit eval`` runs): read a uint8
``.npy`` of N Fashion-MNIST training images, load and fingerprint the test split, extract the
samples' features, read the cached reference statistics, compute FID, KID (100 subsets of
1000) and improved precision/recall (k = 3). The first call fills the reference cache
("cold"); the median of the following calls is the figure ("warm").

Both wall time and the process's CPU time are printed: on a shared machine the wall time
depends on the other jobs, the CPU time (with one thread) hardly does.

Then, on the same features and in the same process, the three metrics are timed (CPU time)
against a plain textbook implementation (numpy covariance + scipy sqrtm; a KID loop in numpy;
full ``torch.cdist`` matrices with ``kthvalue`` for the k-NN radii), with the ratio and the
largest difference of the values.

    python benchmarks/metrics_speed.py --threads 1    # N = 10000
    python benchmarks/metrics_speed.py                # torch's default thread count

``--memory`` measures memory instead (issue 19: evaluation streams, so memory is flat in the
number of samples): a tiny ``dcgan-fashion`` run is trained in a temporary directory, then
``evaluate(RUN, "fashion-mnist:test", metrics="fid", n=N)`` runs in a fresh subprocess for each
N (10,000 and 50,000 by default), so no peak carries over, and its peak resident set size
(``VmHWM``, see :func:`peak_mib`) is printed with the ratio between the sizes. Beside each,
the plain all-in-memory way in its own subprocess: ``load_source`` (all N samples in one
tensor) then ``Evaluator.score``, which is how ``evaluate`` worked before it streamed.

    python benchmarks/metrics_speed.py --memory --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from gankit.data import from_unit_range, load_dataset
from gankit.metrics import fid_from_features, kid, precision_recall
from gankit.metrics.classifier import cache_root, load_classifier
from gankit.metrics.evaluate import evaluate, load_reference, reference_stats
from gankit.metrics.extractors import ModuleExtractor, build_extractor

METRICS = "fid,kid,precision_recall"
MEMORY_REFERENCE = "fashion-mnist:test"
MEMORY_SIZES = (10000, 50000)


def textbook_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def textbook_kid(a: np.ndarray, b: np.ndarray, subsets=100, size=1000, seed=0) -> float:
    rng, d, vals = np.random.default_rng(seed), a.shape[1], []
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        m = size
        vals.append(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean()
        )
    return float(np.mean(vals))


def textbook_pr(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    r_rad = torch.cdist(real, real).kthvalue(k + 1, dim=1).values  # +1: the point itself
    f_rad = torch.cdist(fake, fake).kthvalue(k + 1, dim=1).values
    d = torch.cdist(real, fake)  # (Nr, Nf)
    precision = (d <= r_rad[:, None]).any(0).double().mean().item()
    recall = (d <= f_rad[None, :]).any(1).double().mean().item()
    return precision, recall


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return time.perf_counter() - t, out


def cpu_timed(fn, *a, **kw):
    """(wall s, CPU s of this process, result): CPU time is what the call costs however many
    other processes share the cores; wall time is what it takes on this machine now."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    return time.perf_counter() - t, time.process_time() - c, out


def peak_mib() -> float:
    """Peak resident set size of this process so far, MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process's own
    address space. ``ru_maxrss`` would do in a fresh process, except that Linux carries the
    parent's peak over fork and exec into it (a child started by this script, which holds torch
    and the training set, began at 610 MiB whatever it did), so it is only the fallback."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024  # kB
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(mode: str, run: str, n: int) -> None:
    """One measurement in a fresh process: print a JSON line with the peak RSS."""
    from gankit.metrics.evaluate import Evaluator, load_source, resolve_extractor

    before = peak_mib()  # torch, numpy, scipy and gankit imported
    t, c = time.perf_counter(), time.process_time()
    if mode == "stream":
        fid = evaluate(run, MEMORY_REFERENCE, metrics="fid", n=n)["fid"]
    else:  # the plain way: every sample in one tensor, then score it
        samples, _ = load_source(run, n)
        ref = load_reference(MEMORY_REFERENCE, None, n)
        ex = resolve_extractor("auto", ref.dataset.kind, ref.dataset.name)
        fid = Evaluator(ref, ex, ["fid"], n=n).score(samples.x)["fid"]
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"peak": peak_mib(), "base": before, "fid": fid, "wall": wall, "cpu": cpu}))


def memory_main(args: argparse.Namespace) -> None:
    from gankit import api

    sizes = args.memory_sizes or list(MEMORY_SIZES)
    with tempfile.TemporaryDirectory() as tmp:
        shared = cache_root() / "extractors"
        os.environ["GANKIT_CACHE"] = str(Path(tmp) / "cache")
        (Path(tmp) / "cache").mkdir()
        (Path(tmp) / "cache" / "extractors").symlink_to(shared)
        run = Path(tmp) / "run"
        t = time.perf_counter()
        api.train("dcgan-fashion", run, steps=args.memory_steps, progress=False)
        print(
            f"trained a tiny dcgan-fashion run ({args.memory_steps} steps) in "
            f"{time.perf_counter() - t:.0f} s; reference statistics cached before measuring",
            flush=True,
        )
        ex = build_extractor("domain:fashion-mnist")
        for n in sizes:  # fill the reference cache, so no child pays for (or holds) it
            reference_stats(load_reference(MEMORY_REFERENCE, None, n).dataset, ex, n)
        rows = {}
        for n in sizes:
            for mode in ("stream", "plain"):
                cmd = [sys.executable, __file__, "--memory-child", mode, "--n", str(n)]
                cmd += ["--run", str(run)] + (
                    ["--threads", str(args.threads)] if args.threads else []
                )
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                rows[n, mode] = json.loads(done.stdout.strip().splitlines()[-1])
                r = rows[n, mode]
                print(
                    f"  N = {n}, {mode}: peak {r['peak']:.0f} MiB (after imports {r['base']:.0f}), "
                    f"{r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, fid {r['fid']:.4f}",
                    flush=True,
                )
    print(
        f"peak RSS of evaluate(RUN, {MEMORY_REFERENCE!r}, metrics='fid', n=N), a fresh process "
        f"per row; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| N | streaming (evaluate) MiB | plain (all samples, then score) MiB "
        "| plain / streaming | FID equal |"
    )
    print("|---|---|---|---|---|")
    for n in sizes:
        s_, p_ = rows[n, "stream"], rows[n, "plain"]
        print(
            f"| {n} | {s_['peak']:.0f} | {p_['peak']:.0f} | {p_['peak'] / s_['peak']:.2f} | "
            f"{'yes' if s_['fid'] == p_['fid'] else 'no'} |"
        )
    lo, hi = min(sizes), max(sizes)
    for mode, name in (("stream", "streaming"), ("plain", "plain")):
        a, b = rows[lo, mode], rows[hi, mode]
        print(
            f"{name}: peak at {hi} / peak at {lo} = {b['peak'] / a['peak']:.2f} "
            f"(above the imports: {b['peak'] - b['base']:.0f} / {a['peak'] - a['base']:.0f} MiB)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument(
        "--memory",
        action="store_true",
        help="instead of the speed: peak RSS of evaluate at each N, streaming against all "
        "samples in memory, each in a fresh process",
    )
    ap.add_argument(
        "--memory-sizes",
        type=lambda t: [int(v) for v in t.split(",")],
        help="sample counts for --memory, comma-separated (default: 10000,50000)",
    )
    ap.add_argument(
        "--memory-steps", type=int, default=50, help="training steps of the tiny run (--memory)"
    )
    ap.add_argument("--memory-child", choices=("stream", "plain"), help=argparse.SUPPRESS)
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        return memory_child(args.memory_child, args.run, args.n)
    if args.memory:
        return memory_main(args)
    train = load_dataset("fashion-mnist", split="train").x[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        # A private cache that shares the trained classifier but starts without reference
        # statistics, so the first call really fills it.
        shared = cache_root() / "extractors"
        os.environ["GANKIT_CACHE"] = str(Path(tmp) / "cache")
        (Path(tmp) / "cache").mkdir()
        (Path(tmp) / "cache" / "extractors").symlink_to(shared)
        path = Path(tmp) / "samples.npy"
        np.save(path, from_unit_range(train).numpy())
        cold, result = timed(evaluate, path, "fashion-mnist:test", metrics=METRICS, n=args.n)
        warm = [
            cpu_timed(evaluate, path, "fashion-mnist:test", metrics=METRICS, n=args.n)[:2]
            for _ in range(args.repeats)
        ]
        peak_eval = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB, so far
        # Parts of one cached call, and the textbook comparison on the same features.
        ex = build_extractor("domain:fashion-mnist")
        _, t_feat, fake = cpu_timed(ex, train)
        # The same classifier as trained: batch norms unfolded, contiguous (NCHW) layout.
        plain = ModuleExtractor(load_classifier("fashion-mnist")[0], channels=1, input_size=28)
        _, t_plain, _ = cpu_timed(plain, train)
        ref_ds = load_reference("fashion-mnist:test", None, args.n).dataset
        ref = reference_stats(ref_ds, ex, args.n)
    print(
        f"N = {args.n} samples vs {result['n_reference']} test images, extractor "
        f"{result['extractor']}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    walls, cpus = [w for w, _ in warm], [c for _, c in warm]
    print(
        f"evaluate({METRICS}): first call (fills the reference cache) {cold:.2f} s; "
        f"cached: median wall {statistics.median(walls):.2f} s "
        f"({', '.join(f'{w:.2f}' for w in walls)}), median CPU {statistics.median(cpus):.2f} s "
        f"({', '.join(f'{c:.2f}' for c in cpus)})"
    )
    print(
        f"peak resident memory of the process up to here (torch, the classifier, "
        f"{args.n} float32 training images of {train.numel() * 4 / 2**20:.0f} MiB held by "
        f"the script, the evaluations): {peak_eval:.0f} MiB"
    )
    print(
        f"values: fid {result['fid']:.3f}, kid {result['kid']:.5f}, "
        f"precision {result['precision']:.3f}, recall {result['recall']:.3f}"
    )

    f, r = fake.features, ref.features
    rows = [
        (
            "FID",
            lambda: fid_from_features(f, r),
            lambda: textbook_fid(f.double().numpy(), r.double().numpy()),
        ),
        ("KID", lambda: kid(f, r)[0], lambda: textbook_kid(f.double().numpy(), r.double().numpy())),
        (
            "precision/recall",
            lambda: tuple(precision_recall(r, f).values()),
            lambda: textbook_pr(r, f),
        ),
    ]
    print(
        f"feature extraction of {args.n} samples: {t_feat:.2f} CPU s (the network as trained, "
        f"without folded batch norms and channels-last: {t_plain:.2f} CPU s)"
    )
    print("| metric | gankit CPU s | textbook CPU s | textbook / gankit | max abs difference |")
    print("|---|---|---|---|---|")
    for name, ours, book in rows:
        _, t_ours, v_ours = cpu_timed(ours)
        _, t_book, v_book = cpu_timed(book)
        diff = float(np.max(np.abs(np.subtract(v_ours, v_book))))
        print(f"| {name} | {t_ours:.2f} | {t_book:.2f} | {t_book / t_ours:.2f} | {diff:.2g} |")


if __name__ == "__main__":
    main()
