"""CycleGAN between Fashion-MNIST sneakers and ankle boots (Zhu et al. 2017), and the same
run without the cycle loss (the paper's "GAN alone" ablation, Sec. 5.1.4, Table 4).

    OMP_NUM_THREADS=1 python benchmarks/cyclegan_sneaker_boot.py [--configs cyclegan,no_cycle]

Trains preset cyclegan-sneaker-boot (A: sneakers from the first half of the training split,
B: ankle boots from the second half, never paired) through gankit's one loop, and the same
preset with options.lambda_cycle=0 (so also no identity term, whose default is 0.5 lambda):
the same steps, batch, networks and seed. Then, on the test split (1000 sneakers, 1000 ankle
boots, unseen in training):

* sneaker -> boot: the share of G_AB(test sneakers) that the Fashion-MNIST domain
  classifier (gankit.metrics.classifier, ``domain:fashion-mnist``) calls "ankle boot";
* boot -> sneaker: the share of G_BA(test ankle boots) it calls "sneaker";
* domain FID of each direction: G_AB(test sneakers) against the real test ankle boots and
  G_BA(test boots) against the real test sneakers, in the same classifier's features (a
  translator that draws every input to one boot scores well above, but not on FID);
* the cycle reconstruction error, mean |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b| on the
  [-1, 1] pixel scale, and their mean;

beside the classifier's own figures on the untranslated test images (how often it calls a
real sneaker "sneaker", a real boot "ankle boot"). Goal: both translation shares >= 80%.
Translations use the runs' EMA copies where kept (the presets keep none) in eval mode.

Finished runs are cached in --cache, keyed by config, seed and bench_cache.code_fingerprint
(gankit's source, this script, the environment), so a rerun trains again after any change of
the code. CPU minutes are this process's CPU time (time.process_time) with one thread.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_cache import code_fingerprint

from gankit import api
from gankit.data import load_dataset
from gankit.metrics.classifier import ExtractorNotTrained, train_classifier
from gankit.metrics.extractors import DomainExtractor
from gankit.metrics.fid import fid_from_features
from gankit.runs import load_model

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint(Path(__file__))
PRESET = "cyclegan-sneaker-boot"
SNEAKER, ANKLE_BOOT = 7, 9  # Fashion-MNIST class indices
GOAL = 0.8
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False}
# name -> (overrides on the preset, what it is)
CONFIGS: dict[str, tuple[dict, str]] = {
    "cyclegan": ({}, "CycleGAN: LSGAN + 10 L_cyc + 5 identity, pool 50"),
    "no_cycle": (
        {"options.lambda_cycle": 0.0},
        "GAN alone: lambda_cycle 0 (no cycle, no identity)",
    ),
}


def key(name: str, seed: int) -> str:
    overrides = json.dumps(CONFIGS[name][0], sort_keys=True)
    return f"{name}/seed{seed}/{overrides}/{FINGERPRINT}"


def ensure_extractor() -> DomainExtractor:
    """The cached Fashion-MNIST domain classifier; trained once if missing (not timed)."""
    try:
        return DomainExtractor("fashion-mnist")
    except ExtractorNotTrained:
        print("training the fashion-mnist domain classifier (not timed) ...", file=sys.stderr)
        train_classifier("fashion-mnist")
        return DomainExtractor("fashion-mnist")


def share(classifier: DomainExtractor, images: torch.Tensor, label: int) -> float:
    return float((classifier(images).predicted == label).float().mean())


def score(run: Path, classifier: DomainExtractor) -> dict:
    test = load_dataset("sneaker-boot", split="test")
    a, b = test.x, test.unpaired["b"]
    ab, ba = load_model(run, export="apply"), load_model(run, export="apply_ba")
    fake_b, fake_a = ab(a), ba(b)
    feats = {
        k: classifier(t).features for k, t in {"a": a, "b": b, "ab": fake_b, "ba": fake_a}.items()
    }
    cycle_a = float((ba(fake_b) - a).abs().mean())
    cycle_b = float((ab(fake_a) - b).abs().mean())
    return {
        "sneaker_to_boot": share(classifier, fake_b, ANKLE_BOOT),
        "boot_to_sneaker": share(classifier, fake_a, SNEAKER),
        "fid_a2b": float(fid_from_features(feats["ab"], feats["b"])),
        "fid_b2a": float(fid_from_features(feats["ba"], feats["a"])),
        "cycle_a": cycle_a,
        "cycle_b": cycle_b,
        "cycle": (cycle_a + cycle_b) / 2,
        "n_test": [len(a), len(b)],
    }


def one_run(name: str, seed: int, work: Path, classifier: DomainExtractor) -> dict:
    out = work / f"{name}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)  # a run of older code (its cache entry is stale)
    start = time.process_time()
    api.train(PRESET, out, seed=seed, overrides={**QUIET, **CONFIGS[name][0]})
    cpu = time.process_time() - start
    steps = json.loads((out / "config.json").read_text())["train"]["steps"]
    return {**score(out, classifier), "cpu_seconds": cpu, "steps": steps, "run": str(out)}


def table(results: dict, configs: list[str], seed: int, classifier: DomainExtractor) -> str:
    test = load_dataset("sneaker-boot", split="test")
    real_a, real_b = (
        share(classifier, test.x, SNEAKER),
        share(classifier, test.unpaired["b"], ANKLE_BOOT),
    )
    # the "do nothing" translator: real sneakers scored as boots
    untranslated = fid_from_features(
        classifier(test.x).features, classifier(test.unpaired["b"]).features
    )
    lines = [
        f"Fashion-MNIST test split ({len(test.x)} sneakers, {len(test.unpaired['b'])} ankle "
        f"boots), preset {PRESET}, seed {seed}, one CPU thread; classifier domain:fashion-mnist "
        f'(it calls {real_a:.1%} of the real test sneakers "sneaker" and {real_b:.1%} of the '
        'real test ankle boots "ankle boot"; FID of the untranslated test sneakers against '
        f"the test ankle boots: {untranslated:.2f}).",
        "",
        '| run | what | steps | sneaker -> boot called "ankle boot" | boot -> sneaker called '
        '"sneaker" | FID sneaker -> boot | FID boot -> sneaker | cycle error (both) '
        "| \\|G_BA(G_AB(a)) - a\\| | \\|G_AB(G_BA(b)) - b\\| | CPU min |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in configs:
        r = results[key(c, seed)]
        lines.append(
            f"| {c} | {CONFIGS[c][1]} | {r['steps']} | {r['sneaker_to_boot']:.1%} "
            f"| {r['boot_to_sneaker']:.1%} | {r['fid_a2b']:.2f} | {r['fid_b2a']:.2f} "
            f"| {r['cycle']:.3f} | {r['cycle_a']:.3f} "
            f"| {r['cycle_b']:.3f} | {r['cpu_seconds'] / 60:.1f} |"
        )
    if "cyclegan" in configs:
        r = results[key("cyclegan", seed)]
        met = min(r["sneaker_to_boot"], r["boot_to_sneaker"]) >= GOAL
        lines += [
            "",
            f"Goal (both shares >= {GOAL:.0%}) for cyclegan: {'met' if met else 'missed'}.",
        ]
    lines += [
        "",
        "FID: domain:fashion-mnist features, 1000 translations against the other domain's 1000 "
        "real test images. Cycle error: mean absolute pixel difference on the [-1, 1] scale (0.1 "
        "is 5% of the range); 'both' is the mean of the two directions.",
        "",
        f"Command: `OMP_NUM_THREADS=1 python benchmarks/cyclegan_sneaker_boot.py --configs "
        f"{','.join(configs)} --seed {seed}` (code fingerprint {FINGERPRINT}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--configs", default="cyclegan,no_cycle", help="comma list of " + ", ".join(CONFIGS)
    )
    p.add_argument("--seed", type=int, default=0)
    work_default = Path(tempfile.gettempdir()) / "gankit-cyclegan-sneaker-boot"
    p.add_argument("--cache", default=str(work_default / "cache.json"))
    p.add_argument("--work", default=str(work_default))
    p.add_argument(
        "--table", default=str(ROOT / "benchmarks" / "results" / "cyclegan_sneaker_boot.md")
    )
    where = f"where the runs' last preview grids go ({PRESET}[-config].png)"
    p.add_argument("--pictures", default=str(ROOT / "docs" / "images"), help=where)
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if not configs or any(c not in CONFIGS for c in configs):
        print(f"unknown config; valid: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    classifier = ensure_extractor()
    cache, work = Path(args.cache), Path(args.work)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    for c in configs:
        k = key(c, args.seed)
        if k in results:
            continue
        print(f"training {c} seed {args.seed} ...", file=sys.stderr, flush=True)
        results[k] = one_run(c, args.seed, work, classifier)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    text = table(results, configs, args.seed, classifier)
    print(text)
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text(f"# CycleGAN sneakers <-> ankle boots\n\n{text}\n")
    for c in configs:  # the final preview: a, G_AB(a), cycle; b, G_BA(b), cycle
        grids = sorted((Path(results[key(c, args.seed)]["run"]) / "samples").glob("step_*.png"))
        if grids:
            suffix = "" if c == "cyclegan" else "-" + c.replace("_", "-")
            target = Path(args.pictures) / f"{PRESET}{suffix}.png"
            shutil.copyfile(grids[-1], target)
            print(f"picture: {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
