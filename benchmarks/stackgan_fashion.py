"""StackGAN on Fashion-MNIST captions (Zhang et al. 2017): stage II against stage I, and
conditioning augmentation (CA) on against off.

    OMP_NUM_THREADS=1 python benchmarks/stackgan_fashion.py [--configs ca,no_ca] [--seeds 1]

Trains preset stackgan-fashion (``ca``) and the same with options.conditioning_augmentation=
false (``no_ca``: c^ = mu(phi_t), no noise, no KL term) through gankit's one loop, then scores
each run's final EMA sampler (both stages, gankit.networks.stackgan.StackGANSampler):

* domain FID (features of the Fashion-MNIST domain classifier, ``domain:fashion-mnist``)
  against --n test images, of --n samples for the captions of the first --n test images of
  fashion-captions, at stage II (28x28) and at stage I (14x14, Pillow-bicubic x2 to 28x28,
  gankit.variants.srgan.bicubic_upscale) from the same noise;
* class accuracy on held-out captions: 10 classes x 100 samples, each sample's caption one of
  the held-out phrasings (gankit.text.captions.held_out_captions) of its class with each of
  the four (brightness, size) word pairs in turn; the domain classifier must name the class;
* within-caption diversity: for one held-out caption per class, 50 samples each; the mean
  pairwise distance between samples of the same caption, in pixels (root mean squared
  difference on [0, 1]) and in the domain classifier's features (Euclidean, the features
  domain FID uses); beside it the same for 50 real test images of that class (how much
  one class varies in the data: a caption names one class and at most two attributes).

Finished runs are cached in --cache, keyed by config, seed and the fingerprint of gankit's
source, this script, caption_bench.py and the environment (bench_cache.code_fingerprint),
so a rerun trains again after any code change. The table goes to stdout and --table; the
preview picture (rows: captions, stage I above stage II; columns: noise) to --picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from caption_bench import EXTRACTOR, REFERENCE, held_out, held_out_set, run_cli, train_run

CONFIGS: dict[str, tuple[str, dict, str]] = {
    "ca": ("stackgan-fashion", {}, "stackgan-fashion: conditioning augmentation on"),
    "no_ca": (
        "stackgan-fashion",
        {"options.conditioning_augmentation": False},
        "without CA: c^ = mu(phi_t), no noise, no KL",
    ),
}
DIVERSITY = 50  # samples per caption for the within-caption distances


def draw(sampler, text: torch.Tensor, seed: int, batch: int = 500):
    """(stage I upscaled x2 by bicubic, stage II) images for caption embeddings ``text``."""
    from gankit.nn.modes import evaluating
    from gankit.variants.srgan import bicubic_upscale

    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(len(text), sampler.z_dim, generator=gen)
    ones, twos = [], []
    with torch.no_grad(), evaluating(sampler):
        for s in range(0, len(text), batch):
            s0, img = sampler.stages(z[s : s + batch], text[s : s + batch])
            ones.append(bicubic_upscale(s0.float(), 2))
            twos.append(img.float())
    return torch.cat(ones), torch.cat(twos)


def pairwise(x: torch.Tensor) -> float:
    """Mean distance over the distinct pairs of rows of ``x`` (N, D)."""
    d = torch.cdist(x.double(), x.double())
    n = len(x)
    return float(d.sum() / (n * (n - 1)))


def diversity(images: torch.Tensor, net) -> tuple[float, float]:
    """(pixel RMS distance on [0, 1], classifier-feature distance) within one caption."""
    flat = (images.flatten(1) + 1) / 2
    pixel = pairwise(flat) / flat.shape[1] ** 0.5
    with torch.no_grad():
        feats = net(images)[0]
    return pixel, pairwise(feats)


def score(run: Path, n: int, seed: int) -> dict:
    from gankit.data import load_dataset
    from gankit.metrics.classifier import accuracy, load_classifier
    from gankit.metrics.evaluate import evaluate
    from gankit.runs import load_generator
    from gankit.text import embed_captions

    sampler = load_generator(run).net
    test = load_dataset("fashion-captions", split="test")
    s1, s2 = draw(sampler, test.fields["text"][:n], 10_000 + seed)

    def fid(x):
        return float(evaluate(x, REFERENCE, metrics="fid", n=n, extractor=EXTRACTOR)["fid"])

    # evaluate first: it trains the domain classifier on first use, load_classifier does not
    out = {"fid_stage2": fid(s2), "fid_stage1_bicubic": fid(s1)}
    net, _ = load_classifier("fashion-mnist")
    captions, y = held_out_set()
    s1, s2 = draw(sampler, embed_captions(run, captions, warn=False), 20_000 + seed)
    out["acc_stage2"], out["acc_stage1"] = accuracy(net, s2, y), accuracy(net, s1, y)
    pix, feat, real_pix, real_feat = [], [], [], []
    for c in range(10):
        t = embed_captions(run, [held_out(c)[0]], warn=False).expand(DIVERSITY, -1)
        p, f = diversity(draw(sampler, t, 30_000 + seed + c)[1], net)
        pix.append(p)
        feat.append(f)
        rp, rf = diversity(test.x[test.y == c][:DIVERSITY], net)
        real_pix.append(rp)
        real_feat.append(rf)
    out.update(div_pixel=float(np.mean(pix)), div_feature=float(np.mean(feat)),
               real_div_pixel=float(np.mean(real_pix)),
               real_div_feature=float(np.mean(real_feat)))  # fmt: skip
    return out


def one_run(name: str, seed: int, n: int, work: Path, steps: int | None) -> dict:
    preset, overrides, _ = CONFIGS[name]
    out = work / f"{name}_seed{seed}"
    cpu, steps = train_run(preset, overrides, seed, out, steps)
    return {**score(out, n, seed), "cpu_seconds": cpu, "steps": steps, "run": str(out)}


def picture(run: Path, out: Path, seed: int = 0) -> Path:
    """Rows: per class one held-out caption, stage I (bicubic x2) above stage II; 8 columns
    of noise, the same for every caption."""
    from gankit.data.images import from_unit_range
    from gankit.runs import load_generator
    from gankit.text import embed_captions
    from gankit.viz import image_grid, save_png

    sampler = load_generator(run).net
    cols, rows = 8, []
    for c in range(10):
        t = embed_captions(run, [held_out(c)[0]], warn=False).expand(cols, -1)
        s1, s2 = draw(sampler, t, seed)  # the same seed: the same noise in every row
        rows += [s1, s2]
    return save_png(image_grid(from_unit_range(torch.cat(rows)).numpy(), nrow=cols), out)


def table(configs, results, seeds, n) -> str:
    lines = [
        f"Fashion-MNIST captions; FID: {n} samples vs {n} test images ({EXTRACTOR}); "
        "accuracy: held-out captions, 10 classes x 100; diversity: mean pairwise "
        f"distance of {DIVERSITY} samples of one held-out caption per class; seeds "
        f"0-{seeds - 1}, one thread.",
        "",
        "| run | what | steps | FID stage II | FID stage I (bicubic x2) | accuracy stage II "
        "| accuracy stage I | diversity: pixel RMS | diversity: classifier features "
        "| CPU min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in configs:
        runs = [results[c][s] for s in range(seeds)]
        m = {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "run"}
        lines.append(
            f"| {c} | {CONFIGS[c][2]} | {runs[0]['steps']} | {m['fid_stage2']:.2f} "
            f"| {m['fid_stage1_bicubic']:.2f} | {m['acc_stage2']:.3f} | {m['acc_stage1']:.3f} "
            f"| {m['div_pixel']:.4f} | {m['div_feature']:.3f} | {m['cpu_seconds'] / 60:.1f} |"
        )
    r = results[configs[0]][0]
    lines.append(
        f"| real test images | {DIVERSITY} per class | | | | | | {r['real_div_pixel']:.4f} "
        f"| {r['real_div_feature']:.3f} | |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    return run_cli(argv, doc=__doc__, script=Path(__file__),
                   title="StackGAN on Fashion-MNIST captions", configs=CONFIGS,
                   default_configs="ca,no_ca", name="stackgan_fashion",
                   picture_name="stackgan-fashion.png", one_run=one_run, table=table,
                   picture=picture)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
