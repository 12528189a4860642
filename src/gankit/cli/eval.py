"""``gankit eval`` (score samples, print one JSON object) and ``gankit extractor ...``
(train / list the domain classifiers, fetch InceptionV3 weights)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

PAIR_METRICS = ("psnr", "ssim", "dice", "sensitivity", "specificity", "lesion_detection")


def _pair_metrics(text: str | None) -> list[str] | None:
    """The chosen metrics when every one of them compares pairs (outputs with targets)."""
    names = [m.strip() for m in (text or "").split(",") if m.strip()]
    return names if names and all(m in PAIR_METRICS for m in names) else None


def _run_metrics(text: str | None) -> list[str]:
    """The chosen metrics that score a conditional run themselves (cas)."""
    from gankit.metrics.registry import metric_names

    names = [m.strip().lower() for m in (text or "").split(",")]
    return [m for m in dict.fromkeys(names) if m in metric_names("run")]


def _score(args: argparse.Namespace) -> dict:
    from gankit.metrics.evaluate import evaluate
    from gankit.metrics.translation import (
        evaluate_translation,
        is_translation_run,
        score_pair_files,
    )

    run_metrics = _run_metrics(args.metrics)
    if run_metrics:  # cas: draws its own samples from a conditional run, class by class
        from gankit.metrics.cas import evaluate_run_metrics

        rest = [m.strip() for m in args.metrics.split(",") if m.strip().lower() not in run_metrics]
        out = evaluate_run_metrics(args.source, run_metrics, args.reference, seed=args.seed)
        if any(rest):
            args.metrics = ",".join(m for m in rest if m)
            mine = {k: v for k, v in out.items() if k not in ("source", "reference")}
            return {**mine, **_score(args)}  # source and reference as the other metrics say
        return out
    pairs = _pair_metrics(args.metrics)
    if pairs and args.reference:  # e.g. `gankit apply` outputs against the true images
        return score_pair_files(
            args.source, args.reference, pairs, crop=args.crop, y_channel=args.y_channel
        )
    from gankit.metrics.segmentation import evaluate_segmentation, is_segmentation_run

    if args.reference is None and args.metrics is None and is_segmentation_run(args.source):
        return evaluate_segmentation(args.source, n=args.n, device=args.device,
                                     batch_size=args.batch_size)  # fmt: skip
    if args.reference is None and args.metrics is None and is_translation_run(args.source):
        return evaluate_translation(
            args.source,
            n=args.n,
            extractor=args.extractor,
            device=args.device,
            batch_size=args.batch_size,
            train_extractor=not args.no_train_extractor,
        )
    return evaluate(
        args.source,
        args.reference,
        metrics=args.metrics,
        n=args.n,
        extractor=args.extractor,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        train_extractor=not args.no_train_extractor,
        use_cache=not args.no_cache,
    )


def _cmd_eval(args: argparse.Namespace) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _score(args)
    for note in dict.fromkeys(str(w.message) for w in caught):  # each once, in order
        print(f"gankit: note: {note}", file=sys.stderr)
    print(json.dumps(result, indent=2, sort_keys=True))


def _cmd_extractor_train(args: argparse.Namespace) -> None:
    from gankit.metrics.classifier import is_cached, read_info, train_classifier

    if is_cached(args.dataset) and not args.force:
        info = read_info(args.dataset)
        print(
            f"{args.dataset} classifier already trained (test accuracy "
            f"{info.test_accuracy:.4f}); retrain with --force"
        )
        return
    info = train_classifier(
        args.dataset, epochs=args.epochs, seed=args.seed, width=args.width, progress=not args.quiet
    )
    from gankit.metrics.classifier import classifier_dir

    print(
        f"{args.dataset} classifier: test accuracy {info.test_accuracy:.4f} on {info.n_test} "
        f"images, content hash {info.content_hash[:16]}, saved in {classifier_dir(args.dataset)}"
    )


def _cmd_extractor_list(args: argparse.Namespace) -> None:
    from gankit.metrics.classifier import (
        ARCH_VERSION,
        DOMAIN_DATASETS,
        classifier_dir,
        is_cached,
        read_info,
    )

    for name in DOMAIN_DATASETS:
        if is_cached(name):
            info = read_info(name)
            if info.arch_version != ARCH_VERSION:
                print(f"domain:{name:<14} outdated (gankit extractor train {name} --force)")
                continue
            print(
                f"domain:{name:<14} test accuracy {info.test_accuracy:.4f}  "
                f"hash {info.content_hash[:16]}  {classifier_dir(name)}"
            )
        else:
            print(f"domain:{name:<14} not trained (gankit extractor train {name})")


def _cmd_extractor_download(args: argparse.Namespace) -> None:
    from gankit.metrics.inception import download_inception

    path = download_inception(args.dest)
    print(f"InceptionV3 FID weights saved to {path}")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_commands(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="score samples against real data, or a translation run on its test split; "
        "prints one JSON object",
    )
    p.add_argument(
        "source",
        help="a run directory (an image-to-image or segmentation run is scored on its test "
        "pairs), a .npy/.npz sample file or an image folder",
    )
    p.add_argument(
        "--reference",
        help="real data: fashion-mnist:test, digits, ring, FILE.npz, DIR (default: the run's "
        "dataset, test split where there is one)",
    )
    p.add_argument(
        "--metrics",
        help="comma list of fid, kid, precision_recall, density_coverage (or prdc), is, "
        "class_coverage, mode_coverage, memorization (default: those that fit the data); "
        "cas (a class-conditional run, labelled reference; Ravuri & Vinyals 2019); "
        "psnr, ssim, dice, sensitivity, specificity, lesion_detection with --reference compare "
        "SOURCE and REFERENCE item by item",
    )
    p.add_argument("--n", type=_positive, default=2000, help="samples to score (default 2000)")
    p.add_argument(
        "--extractor",
        default="auto",
        help="auto, domain:DATASET, inception[:WEIGHTS] or raw (default auto)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the generator's samples")
    p.add_argument("--batch-size", type=_positive, default=250)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--no-train-extractor",
        action="store_true",
        help="refuse, instead of training once, when the domain classifier is not cached yet",
    )
    # the old opt-in flag: training on first use is now the default
    p.add_argument("--train-extractor", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-cache", action="store_true", help="do not read or write cached stats")
    p.add_argument(
        "--crop",
        type=int,
        default=0,
        help="paired metrics (psnr, ssim) of files: border pixels left out (SR: the scale)",
    )
    p.add_argument(
        "--y-channel",
        action="store_true",
        help="paired metrics of RGB files: score the BT.601 luma, as SR papers do",
    )
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("extractor", help="feature extractors for the metrics")
    esub = p.add_subparsers(dest="extractor_command", required=True)
    t = esub.add_parser("train", help="train and cache a dataset's domain classifier")
    t.add_argument("dataset", help="digits, mnist or fashion-mnist")
    t.add_argument("--epochs", type=_positive, help="default: 10 digits, 2 mnist, 3 fashion-mnist")
    t.add_argument("--width", type=_positive, default=32, help="channels of the first conv")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--force", action="store_true", help="retrain even if cached")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_extractor_train)
    t = esub.add_parser("list", help="show the cached domain classifiers")
    t.set_defaults(func=_cmd_extractor_list)
    t = esub.add_parser(
        "download-inception", help="fetch the pytorch-fid InceptionV3 weights (needs internet)"
    )
    t.add_argument("--dest", help="folder (default: the gankit cache)")
    t.set_defaults(func=_cmd_extractor_download)
