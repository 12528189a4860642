"""Adversarial autoencoders on Fashion-MNIST (Makhzani et al. 2015, Sec. 5 and 6).

    OMP_NUM_THREADS=1 python benchmarks/aae_fashion.py [--seeds 1] [--parts cluster,semi]
        [--steps N] [--set KEY=VALUE ...]

(a) Unsupervised clustering, K = 16 (Sec. 6, Table 2): trains preset aae-cluster-fashion and
    scores test accuracy of its clusters q(y|x), each cluster labelled from the TRAINING set
    by two rules: ``confidence``, the paper's (the class of the training image with the
    largest q(y=k|x)), and ``majority`` (the most frequent class among the training images
    assigned to the cluster). Beside it, in the same run, sklearn KMeans with K = 16 fitted on
    the raw test pixels (n_init 4, random_state = seed), its clusters labelled by the same two
    rules: ``confidence`` = the class of the training image closest to the cluster's centre,
    ``majority`` = majority class of the training images nearest to that centre. And the same
    k-means on the trained encoder's last hidden layer (what q(y|x) and z are read from): does
    the AAE's training give features that cluster better than the pixels?
(b) Semi-supervised, 1,000 labels (Sec. 5, Table 1): trains aae-semi-fashion and scores the
    test accuracy of q(y|x), beside the same encoder architecture trained as a plain
    classifier on the same 1,000 labelled images alone (cross-entropy, Adam with the preset's
    lr_g / betas / batch size, as many updates as the AAE's steps).

--set changes the presets (a config key, as ``gankit train --set``; repeatable), for the
settings tried against the presets: ``--set model.hidden=1000`` trains the paper's width.
Each trained run is timed in process CPU seconds (one torch thread). Results are cached in
--cache, keyed by part, seed, --steps, --set and a fingerprint of gankit's source, this script
and the environment (as benchmarks/ali_grid.py), so a rerun retrains only after a change.
A markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_cache import code_fingerprint, override_error

from gankit import api
from gankit.data import load_dataset
from gankit.nn.modes import evaluating
from gankit.presets import preset_config
from gankit.runs import load_model, load_network
from gankit.variants import VARIANTS
from gankit.variants._aae_priors import label_by_confidence, label_by_majority

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {"cluster": "aae-cluster-fashion", "semi": "aae-semi-fashion"}


def train(preset: str, out: Path, seed: int, steps: int | None, sets: list[str]) -> float:
    """Train ``preset`` with the overrides ``sets`` into ``out``; its process CPU seconds."""
    cpu0 = time.process_time()
    api.train(preset, out, steps=steps, seed=seed, overrides=sets, progress=False)
    return time.process_time() - cpu0


@torch.no_grad()
def probabilities(run: Path, x: torch.Tensor) -> torch.Tensor:
    """q(y|x) of the run's classify export, (N, K)."""
    model = load_model(run, export="classify")
    return torch.cat([model(c) for c in x.split(1000)])


def cluster_part(seed: int, steps: int | None, sets: list[str]) -> dict:
    train_set, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", split="test")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cpu = train(PRESETS["cluster"], run, seed, steps, sets)
        p_train, p_test = probabilities(run, train_set.x), probabilities(run, test.x)
        h_test, h_train = hidden_features(run, test.x), hidden_features(run, train_set.x)
        steps_done = json.loads((run / "config.json").read_text())["train"]["steps"]
    k = p_train.shape[1]
    yt, ys = train_set.y, test.y
    by_conf = label_by_confidence(p_train, yt)
    by_major = label_by_majority(p_train.argmax(1), yt, k)
    assign = p_test.argmax(1)
    aae = {
        "confidence": float((by_conf[assign] == ys).float().mean()),
        "majority": float((by_major[assign] == ys).float().mean()),
        "clusters_used": int(assign.unique().numel()),
    }
    cpu0 = time.process_time()
    kmeans = kmeans_scores(test.x.flatten(1), train_set.x.flatten(1), yt, ys, k, seed)
    kmeans["cpu_seconds"] = time.process_time() - cpu0
    return {
        "aae": aae,
        "kmeans": kmeans,
        "kmeans_hidden": kmeans_scores(h_test, h_train, yt, ys, k, seed),
        "cpu_seconds": cpu,
        "steps": steps_done,
        "k": k,
    }


def kmeans_scores(flat_test, flat_train, yt, ys, k: int, seed: int) -> dict:
    """KMeans(k) fitted on the test features, each cluster labelled from the training set
    by both rules; test accuracy under each."""
    from sklearn.cluster import KMeans

    flat_test, flat_train = flat_test.numpy(), flat_train.numpy()
    km = KMeans(k, n_init=4, random_state=seed).fit(flat_test)
    near_train = km.predict(flat_train)  # each training image's nearest centre
    centres = torch.from_numpy(km.cluster_centers_).float()
    closest = torch.cdist(centres, torch.from_numpy(flat_train)).argmin(1)  # (K,)
    km_conf, km_major = yt[closest], label_by_majority(torch.from_numpy(near_train).long(), yt, k)
    km_assign = torch.from_numpy(km.labels_).long()
    return {
        "confidence": float((km_conf[km_assign] == ys).float().mean()),
        "majority": float((km_major[km_assign] == ys).float().mean()),
    }


@torch.no_grad()
def hidden_features(run: Path, x: torch.Tensor) -> torch.Tensor:
    """The trained encoder's last hidden layer, (N, hidden)."""
    E = load_network(run, "E")
    with evaluating(E):
        return torch.cat([E.hidden(c) for c in x.split(1000)])


def plain_classifier(seed: int, steps: int, sets: list[str]) -> tuple[float, float]:
    """aae-semi-fashion's encoder (with the overrides ``sets``) trained by cross-entropy on its
    1,000 labels alone: (test accuracy, CPU seconds). The encoder and the labelled subset are
    the variant's own (``AAE.build``), so they are the AAE's."""
    cfg = preset_config(PRESETS["semi"], [*sets, f"train.seed={seed}"])
    train_set, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", split="test")
    cpu0 = time.process_time()
    torch.manual_seed(seed)  # E is built first, so its initial weights depend on this alone
    variant = VARIANTS.get("aae")()
    net = variant.build(cfg, train_set)["E"]
    lab_x, lab_y = variant.labelled
    t = cfg.train
    opt = torch.optim.Adam(net.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        pick = torch.randint(len(lab_y), (t.batch_size,), generator=gen)
        loss = F.cross_entropy(net.heads(lab_x[pick])[0], lab_y[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad(), evaluating(net):
        pred = torch.cat([net.classify(c) for c in test.x.split(1000)]).argmax(1)
    return float((pred == test.y).float().mean()), time.process_time() - cpu0


def semi_part(seed: int, steps: int | None, sets: list[str]) -> dict:
    test = load_dataset("fashion-mnist", split="test")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cpu = train(PRESETS["semi"], run, seed, steps, sets)
        acc = float((probabilities(run, test.x).argmax(1) == test.y).float().mean())
        steps_done = json.loads((run / "config.json").read_text())["train"]["steps"]
    base_acc, base_cpu = plain_classifier(seed, steps_done, sets)
    return {
        "aae": acc,
        "cpu_seconds": cpu,
        "steps": steps_done,
        "plain": base_acc,
        "plain_cpu_seconds": base_cpu,
    }


PARTS = {"cluster": cluster_part, "semi": semi_part}


def pct(values: list[float]) -> str:
    a = 100 * np.asarray(values)
    return f"{a.mean():.1f}" + (f" ± {a.std():.1f}" if len(a) > 1 else "")


def table(results: dict, parts: list[str], seeds: list[int], sets: list[str]) -> str:
    what = ", " + " ".join(sets) if sets else ""
    lines = [
        "| setting | method | label rule | test accuracy % | CPU min / run | seeds |",
        "|---|---|---|---|---|---|",
    ]
    if "cluster" in parts:
        rs = [results[f"cluster/{s}"] for s in seeds]
        k, steps = rs[0]["k"], rs[0]["steps"]
        cpu = np.mean([r["cpu_seconds"] for r in rs]) / 60
        km_cpu = np.mean([r["kmeans"]["cpu_seconds"] for r in rs]) / 60
        used = ", ".join(str(r["aae"]["clusters_used"]) for r in rs)
        for rule in ("confidence", "majority"):
            lines.append(
                f"| clustering, K = {k} | AAE (aae-cluster-fashion{what}, {steps} steps; "
                f"clusters used {used}) | {rule} "
                f"| {pct([r['aae'][rule] for r in rs])} | {cpu:.1f} | {len(rs)} |"
            )
        for rule in ("confidence", "majority"):
            lines.append(
                f"| clustering, K = {k} | k-means on test pixels | {rule} "
                f"| {pct([r['kmeans'][rule] for r in rs])} | {km_cpu:.1f} | {len(rs)} |"
            )
        for rule in ("confidence", "majority"):
            lines.append(
                f"| clustering, K = {k} | k-means on the AAE encoder's last hidden layer "
                f"| {rule} | {pct([r['kmeans_hidden'][rule] for r in rs])} | - | {len(rs)} |"
            )
    if "semi" in parts:
        rs = [results[f"semi/{s}"] for s in seeds]
        steps = rs[0]["steps"]
        cpu = np.mean([r["cpu_seconds"] for r in rs]) / 60
        plain_cpu = np.mean([r["plain_cpu_seconds"] for r in rs]) / 60
        lines.append(
            f"| 1,000 labels | semi-supervised AAE (aae-semi-fashion{what}, {steps} steps) | - "
            f"| {pct([r['aae'] for r in rs])} | {cpu:.1f} | {len(rs)} |"
        )
        lines.append(
            f"| 1,000 labels | same encoder, classifier on the labels alone ({steps} updates) "
            f"| - | {pct([r['plain'] for r in rs])} | {plain_cpu:.1f} | {len(rs)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="cluster,semi", help="comma list of " + ", ".join(PARTS))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--steps", type=int, help="training steps (default: each preset's)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override the presets"
    )
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "aae_fashion.json"))
    args = p.parse_args(argv)
    parts = [c for c in args.parts.split(",") if c]
    if args.seeds < 1 or any(c not in PARTS for c in parts):
        print(f"--seeds >= 1 and --parts from {', '.join(PARTS)}", file=sys.stderr)
        return 2
    # a bad --set fails here in one line, not after loading the data
    if bad := override_error(
        [PRESETS[part] for part in parts], args.set, "--seeds N (seeds 0 .. N-1)"
    ):
        print(bad, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    cache = Path(args.cache)
    stored: dict = json.loads(cache.read_text()) if cache.exists() else {}
    fp = f"{code_fingerprint(Path(__file__))}/steps={args.steps}"
    if args.set:  # the presets' own runs keep the key they had before --set existed
        fp += "/set=" + " ".join(args.set)
    results = stored.get(fp, {})
    seeds = list(range(args.seeds))
    for part in parts:
        for seed in seeds:
            key = f"{part}/{seed}"
            if key in results:
                continue
            print(f"{key}: training ...", file=sys.stderr, flush=True)
            results[key] = PARTS[part](seed, args.steps, args.set)
            print(f"{key}: {json.dumps(results[key])}", file=sys.stderr, flush=True)
            # re-read before writing: another invocation (--parts semi beside --parts
            # cluster) may have stored its runs meanwhile
            stored = json.loads(cache.read_text()) if cache.exists() else {}
            stored[fp] = {**stored.get(fp, {}), key: results[key]}
            results = {**stored[fp], **results}
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(stored, indent=1, sort_keys=True))
    print(f"\nFashion-MNIST, seeds {seeds}, code {fp}\n")
    print(table(results, parts, seeds, args.set))
    return 0


if __name__ == "__main__":
    sys.exit(main())
