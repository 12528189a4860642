"""Benchmark: FIGAN on Fashion-MNIST (issue 18), consistency of G(z, f) with its classifier.

Trains the preset ``figan-fashion`` (one thread, timed in process CPU seconds; the first run
also computes the classifier's features of the 60,000 training images, inside the timing),
then on ``--n-test`` test images x with features f = PCA(phi(x)):

* agreement: the classifier's prediction for G(z, f) equals its prediction for x (goal >= 90%),
  overall and per class (the class the classifier predicts for x), with the class that the
  disagreeing G(z, f) go to most;
* what k components keep: the classifier's own head (a linear layer on its features) applied
  to the features rebuilt from f, against its prediction from all of them;
* the same agreement for two real images with nearby features: x against the training image
  whose f is nearest to x's (Euclidean, whitened), a reference for how well f alone fixes the
  classifier's prediction;
* cosine between the reduced features of G(z, f) and f (PCA coordinates, centred on the
  training mean), beside the chance level: the cosine between f and another test image's;
* walks from one class's mean feature to another's (shirt -> T-shirt, pullover -> coat,
  sneaker -> ankle boot) with ``--noises`` fixed noises: the mean probability of the target
  class at each step (goal: rising monotonically) and the share of noises whose own curve rises
  monotonically; pictures of 4 noises each into docs/images/figan-*.png.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/figan_fashion.py

The trained run is cached under ``--work`` keyed by seed, steps and
bench_cache.code_fingerprint(); results go to benchmarks/results/figan_fashion.md and .json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cache import code_fingerprint, environment  # noqa: E402

from gankit import api  # noqa: E402
from gankit.applications.figan_walk import endpoints, load_explainer, render, walk  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.metrics.classifier import load_classifier  # noqa: E402

PAIRS = (("shirt", "t-shirt"), ("pullover", "coat"), ("sneaker", "ankle boot"))
QUIET = {"log.progress": False}


def train(work: Path, seed: int, steps: int | None) -> tuple[Path, dict]:
    key = f"seed{seed}-steps{steps or 'preset'}-{code_fingerprint(Path(__file__))}"
    run, meta = work / key, work / key / "bench_train.json"
    if meta.is_file():
        return run, json.loads(meta.read_text())
    shutil.rmtree(run, ignore_errors=True)
    start, wall = time.process_time(), time.time()
    api.train("figan-fashion", run, seed=seed, steps=steps, overrides=QUIET)
    info = {"cpu_seconds": time.process_time() - start, "wall_seconds": time.time() - wall}
    info["steps"] = json.loads((run / "config.json").read_text())["train"]["steps"]
    meta.write_text(json.dumps(info))
    return run, info


@torch.no_grad()
def consistency(run: Path, n: int, seed: int) -> dict:
    G, fm = load_explainer(run)
    test = load_dataset("fashion-mnist", split="test")
    x, y = test.x[:n], test.y[:n]
    logits, feats = fm.classify(x)
    f = fm.reduce(feats)
    z = G.prior.sample(n, torch.Generator().manual_seed(seed + 100), torch.device("cpu"))
    fake = torch.cat([G.generate(a, c=b) for a, b in zip(z.split(500), f.split(500))])
    g_logits, g_feats = fm.classify(fake)
    pred, g_pred = logits.argmax(1), g_logits.argmax(1)
    pca, g_pca = f * fm.std, fm.reduce(g_feats) * fm.std  # PCA coordinates, not whitened
    other = pca[torch.randperm(n, generator=torch.Generator().manual_seed(seed + 200))]
    cos = torch.nn.functional.cosine_similarity
    # two real images with nearby features: x and its nearest training image in f
    train = load_dataset("fashion-mnist", split="train")
    out = [fm.classify(train.x[s : s + 1000]) for s in range(0, len(train), 1000)]
    t_pred = torch.cat([o[0] for o in out]).argmax(1)
    t_f = fm.reduce(torch.cat([o[1] for o in out]))
    nearest = torch.cat([torch.cdist(a, t_f).argmin(1) for a in f.split(500)])
    # the classifier's head on the features rebuilt from the k components of f
    head = load_classifier("fashion-mnist")[0].head
    assert torch.equal(head(feats).argmax(1), pred), "the run's classifier is not the domain one"
    rebuilt_pred = head(fm.expand(f)).argmax(1)
    same = g_pred == pred
    per_class = []
    for c, name in enumerate(fm.class_names):
        mine = pred == c
        if not mine.any():
            continue
        missed = g_pred[mine & ~same]
        to = fm.class_names[int(missed.mode().values)] if len(missed) else "-"
        per_class.append({
            "class": name,
            "n": int(mine.sum()),
            "agreement": float(same[mine].float().mean()),
            "nearest_real_agreement": float((t_pred[nearest] == pred)[mine].float().mean()),
            "most_missed_to": to,
        })  # fmt: skip
    return {
        "n": n,
        "agreement": float(same.float().mean()),
        "nearest_real_agreement": float((t_pred[nearest] == pred).float().mean()),
        "rebuilt_agreement": float((rebuilt_pred == pred).float().mean()),
        "per_class": per_class,
        "gen_accuracy_vs_label": float((g_pred == y).float().mean()),
        "real_accuracy": float((pred == y).float().mean()),
        "cosine_mean": float(cos(g_pca, pca).mean()),
        "cosine_median": float(cos(g_pca, pca).median()),
        "cosine_chance": float(cos(other, pca).mean()),
    }


def walks(run: Path, noises: int, steps: int, seed: int, images: Path | None) -> list[dict]:
    G, fm = load_explainer(run)
    out = []
    for frm, to in PAIRS:
        start, end, s, t, title = endpoints(fm, frm, to)
        x, probs = walk(G, fm, start, end, steps, noises, seed)
        target, source = probs[..., t], probs[..., s]  # (noises, steps)
        rising = (target.diff(dim=1) >= 0).all(1).float().mean()
        mean = target.mean(0)
        out.append({
            "walk": title,
            "mean_target": [round(v, 3) for v in mean.tolist()],
            "mean_source": [round(v, 3) for v in source.mean(0).tolist()],
            "mean_monotonic": bool((mean.diff() >= 0).all()),
            "noises_monotonic": float(rising),
        })  # fmt: skip
        if images is not None:
            name = f"figan-{frm}-{to}".replace(" ", "-")
            render(x[:4], probs[:4], fm.class_names, s, t, title, images / f"{name}.png")
    if images is not None:
        start, end, _, _, title = endpoints(fm, pc=0)
        x, probs = walk(G, fm, start, end, steps, 4, seed)
        render(x, probs, fm.class_names, None, None, title, images / "figan-pc0.png")
    return out


def markdown(info: dict, c: dict, w: list[dict], args: argparse.Namespace) -> str:
    goal = "PASS" if c["agreement"] >= 0.9 else "FAIL"
    lines = [
        "### FIGAN on Fashion-MNIST (issue 18)",
        "",
        "```",
        "OMP_NUM_THREADS=1 nice -n 10 python benchmarks/figan_fashion.py "
        f"--seed {args.seed} --n-test {args.n_test} --noises {args.noises}",
        "```",
        "",
        f"- preset `figan-fashion` ({info['setup']}), seed {args.seed}, {info['steps']} steps, "
        "one thread: "
        f"{info['cpu_seconds'] / 60:.1f} CPU min ({info['wall_seconds'] / 60:.1f} min wall), "
        "including the classifier's features of the 60,000 training images where not cached",
        f"- {environment()}; code fingerprint {code_fingerprint(Path(__file__))}",
        f"- classifier: the Fashion-MNIST domain classifier, accuracy on these {c['n']} test "
        f"images {c['real_accuracy']:.3f}",
        "",
        f"| {c['n']} test features f (one z each, seed {args.seed + 100}) | value |",
        "|---|---|",
        f"| prediction for G(z, f) = prediction for the source image ({goal}: goal >= 0.90) "
        f"| {c['agreement']:.3f} |",
        f"| prediction for G(z, f) = the source image's label | {c['gen_accuracy_vs_label']:.3f} |",
        "| reference: prediction for the training image with the nearest f = prediction for the "
        f"source image | {c['nearest_real_agreement']:.3f} |",
        "| reference: the classifier's head on the features rebuilt from f = its prediction for "
        f"the source image | {c['rebuilt_agreement']:.3f} |",
        f"| cosine(reduced features of G(z, f), f), mean / median | {c['cosine_mean']:.3f} / "
        f"{c['cosine_median']:.3f} |",
        f"| chance: cosine(f of another test image, f), mean | {c['cosine_chance']:.3f} |",
        "",
        "Per class (the classifier's prediction for the source image): agreement of G(z, f), "
        "the nearest-real-image reference, and where the disagreeing G(z, f) go most.",
        "",
        "| class | test features | agreement | nearest real image | most missed to |",
        "|---|---|---|---|---|",
        *(
            f"| {r['class']} | {r['n']} | {r['agreement']:.3f} | "
            f"{r['nearest_real_agreement']:.3f} | {r['most_missed_to']} |"
            for r in c["per_class"]
        ),
        "",
        f"Walks between class-mean features, {args.noises} fixed noises (seed {args.seed}), "
        f"{args.walk_steps} steps: mean probability of the target class (source class) per step.",
        "",
        "| walk | mean p(target) along the walk | p(source) at the ends | mean rises "
        "monotonically | noises whose own curve rises monotonically |",
        "|---|---|---|---|---|",
    ]
    for r in w:
        curve = " ".join(f"{v:.2f}" for v in r["mean_target"])
        src = f"{r['mean_source'][0]:.2f} -> {r['mean_source'][-1]:.2f}"
        yes = "yes" if r["mean_monotonic"] else "no"
        lines.append(f"| {r['walk']} | {curve} | {src} | {yes} | {r['noises_monotonic']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="runs/bench-figan-fashion", help="cache of trained runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="generator steps (default: the preset's)")
    p.add_argument("--n-test", type=int, default=2000, help="test features to score")
    p.add_argument("--noises", type=int, default=200, help="fixed noises per walk")
    p.add_argument("--walk-steps", type=int, default=8)
    p.add_argument("--images", default="docs/images", help="folder for the walk pictures")
    p.add_argument("--results", default="benchmarks/results/figan_fashion.md")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--run", help="score this run (trained by this script) instead of training")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.run:  # score a run trained earlier (its bench_train.json has its timing)
        run = Path(args.run)
        info = json.loads((run / "bench_train.json").read_text())
    else:
        run, info = train(Path(args.work), args.seed, args.steps)
    cfg = json.loads((run / "config.json").read_text())
    o, t = cfg["options"], cfg["train"]
    info["setup"] = (
        f"k={o['k']}, D by {o['d_condition']}, matching-aware "
        f"{'on' if o.get('matching_aware') else 'off'}, EMA {t['ema'] or 'off'}, "
        f"lr G/D {t['lr_g']:g}/{t['lr_d']:g}"
    )
    c = consistency(run, args.n_test, args.seed)
    w = walks(run, args.noises, args.walk_steps, args.seed, Path(args.images))
    text = markdown(info, c, w, args)
    print(text)
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    result = {"train": info, "consistency": c, "walks": w}
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
