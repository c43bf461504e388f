"""Command line: ``fracture-desktop [FOLDER]`` opens the viewer; subcommands work headless.

Only argument parsing lives here; each subcommand imports its module when it runs, so the
viewer starts without loading torch or the training stack.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from fracture_desktop.core.inference.devices import DEVICES

SUBCOMMANDS = (
    "scan", "validate", "train", "evaluate", "shift", "export-model", "export-onnx",
    "fit-domain", "fit-localiser", "listen",
)  # fmt: skip
MODEL_HELP = "model folder (default: $FRACTURE_DESKTOP_MODEL_DIR, else the shipped model)"
MIRROR_HELP = "score each image as the mean logit of it and its left-right mirror"


def _add_configured(
    sub: argparse._SubParsersAction, name: str, help_text: str, config: str, options: bool
) -> None:
    """A subcommand whose options come from a config class of ``training.config``, read only
    with ``options`` (when the command line names a training subcommand), so that the
    viewer, scan and the self-test never import the training code."""
    if not options:
        sub.add_parser(name, help=help_text)
        return
    try:
        configs = importlib.import_module("fracture_desktop.training.config")
    except ModuleNotFoundError:
        # The desktop bundle leaves the training code out: no options to read, so whatever
        # follows the subcommand is taken as is, and running it says which extra is missing.
        p = sub.add_parser(name, help=help_text, prefix_chars="\0", add_help=False)
        p.add_argument("options", nargs="*")
        return
    configs.add_options(sub.add_parser(name, help=help_text), getattr(configs, config))


def _run_train(args: argparse.Namespace) -> int:
    from fracture_desktop.training.config import TrainConfig, config_from_options
    from fracture_desktop.training.train import train

    print(train(config_from_options(args, TrainConfig)))
    return 0


def _add_sources(p: argparse.ArgumentParser, help_text: str) -> None:
    """``--data``, once per training source (``training/dataset.py``), at least once."""
    p.add_argument("--data", required=True, type=Path, action="append", help=help_text)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model on a split or a labelled folder")
    p.add_argument("--model", required=True, type=Path, help="model folder or training run")
    _add_sources(
        p,
        "source folder (with splits.csv) or Fractured/ folders; repeat for several, "
        "each scored on its own (a run is calibrated on all their val splits)",
    )
    p.add_argument("--split", default="test", help="source split (ignored for folders)")
    p.add_argument("--out", type=Path, default=Path("evaluation"), help="report folder")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"))
    p.add_argument("--no-heatmaps", action="store_true", help="skip Grad-CAM localisation")
    p.add_argument("--mirror-average", action="store_true", help=MIRROR_HELP + " (runs only)")


def _run_evaluate(args: argparse.Namespace) -> int:
    from fracture_desktop.training.evaluate import (
        default_boxes,
        evaluate_model,
        evaluation_samples,
        load_for_evaluation,
    )

    engine, _ = load_for_evaluation(args.model, args.data, args.cache_dir, args.mirror_average)
    for data in args.data:
        samples = evaluation_samples(data, args.split)
        out = args.out / data.name if len(args.data) > 1 else args.out
        boxes = {} if args.no_heatmaps else default_boxes(data)
        overall = evaluate_model(engine, samples, out, args.cache_dir, boxes)["overall"]
        print(f"{engine.card.label} on {len(samples)} images -> {out / 'report.json'}")
        for key in ("roc_auc", "pr_auc"):
            if key in overall:
                v = overall[key]
                print(f"  {key}: {v['value']:.3f} (95% CI {v['low']:.3f}-{v['high']:.3f})")
        for name, point in overall["operating_points"].items():
            print(
                f"  @{name} ({point['threshold']:.3f}): sensitivity "
                f"{point['recall_sensitivity']:.3f} specificity {point['specificity']:.3f} "
                f"accuracy {point['accuracy']:.3f}"
            )
    return 0


def _add_shift(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("shift", help="shift benchmarks: re-acquisition, source ratio, hold-outs")
    p.add_argument("--model", required=True, type=Path, help="model folder or training run")
    p.add_argument("--data", required=True, type=Path, help="FracAtlas folder")
    p.add_argument("--split", default="test", help="FracAtlas split")
    p.add_argument("--holdout", default="", help="score only the images a hold-out run left out")
    p.add_argument(
        "--every-split",
        action="store_true",
        help="with --holdout: score the held-out images of every split, not only --split's",
    )
    p.add_argument("--out", required=True, type=Path, help="JSON report to write")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"))


def _run_shift(args: argparse.Namespace) -> int:
    import json

    from fracture_desktop.training.dataset import held_out_images, holdout_subset
    from fracture_desktop.training.evaluate import evaluation_samples, load_for_evaluation
    from fracture_desktop.training.shift import shift_report

    if args.every_split and not args.holdout:
        raise SystemExit("fracture-desktop shift: --every-split needs --holdout")
    engine, _ = load_for_evaluation(args.model, [args.data], args.cache_dir)
    if args.every_split:
        samples = held_out_images(evaluation_samples(args.data, None), args.data, args.holdout)
    else:
        samples = evaluation_samples(args.data, args.split)
        if args.holdout:
            samples = holdout_subset(samples, args.data, args.holdout, "test")
    # A hold-out's test side is one source or region: its clean figures are the benchmark.
    report = shift_report(engine, samples, args.data, args.cache_dir, full=not args.holdout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"{engine.card.label} on {len(samples)} images -> {args.out}")
    for name, figures in report.items():
        if isinstance(figures, dict) and "median_probability_of_normals" in figures:
            auc = figures["roc_auc"]
            shown = f"{auc['value']:.3f} [{auc['low']:.3f}-{auc['high']:.3f}]" if auc else "n/a"
            print(
                f"  {name:24s} ROC-AUC {shown}  normals' median p "
                f"{figures['median_probability_of_normals']:.3f}"
            )
    if "source_ratio" in report:
        ratio = report["source_ratio"]["large_over_small"]
        print(f"  large / small normals' median p: {ratio:.2f}")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-model", help="calibrate a run on val, score it on test, write models/<id>/"
    )
    p.add_argument("--run", required=True, type=Path, help="training run folder")
    _add_sources(p, "source folder (with splits.csv); repeat for the run's every source")
    p.add_argument("--out", required=True, type=Path, help="model folder to write")
    p.add_argument("--eval-dir", required=True, type=Path, help="where test reports go")
    p.add_argument("--id", required=True, help="model id, e.g. fracture_net-v1")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"))
    p.add_argument("--mirror-average", action="store_true", help=MIRROR_HELP)


def _run_export(args: argparse.Namespace) -> int:
    from fracture_desktop.training.export import release_model

    card = release_model(
        args.run,
        args.data,
        args.out,
        args.eval_dir,
        args.id,
        args.version,
        args.cache_dir,
        args.mirror_average,
    )
    print(f"wrote {card.directory}: {card.label}")
    return 0


def _add_export_onnx(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-onnx",
        help="write model.onnx into model folders (ONNX Runtime's graph; sha256 in the card)",
    )
    p.add_argument("models", nargs="+", type=Path, metavar="DIR", help="model folders")


def _run_export_onnx(args: argparse.Namespace) -> int:
    from fracture_desktop.core.errors import ModelError
    from fracture_desktop.training.onnx_export import export_onnx

    failed = 0
    for folder in args.models:
        try:
            card = export_onnx(folder)
        except ModelError as exc:
            failed += 1
            print(f"{folder}: {exc.reason} ({exc.details})", file=sys.stderr)
        else:
            print(f"wrote {card.directory / card.raw['onnx']['file']}: {card.label}")
    return 1 if failed else 0


def _add_fit_domain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit-domain",
        help="fit a model folder's domain check on its sources' train/val (no retraining)",
    )
    p.add_argument("--model", required=True, type=Path, help="model folder to complete")
    _add_sources(p, "source folder (with splits.csv); repeat for several")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"))


def _run_fit_domain(args: argparse.Namespace) -> int:
    from fracture_desktop.training.domain_fit import fit_model_dir

    card = fit_model_dir(args.model, args.data, args.cache_dir)
    domain = card.raw["domain"]
    print(
        f"wrote {card.directory / card.domain_file}: {card.label}, "
        f"{domain['val_pass_rate']:.1%} of {domain['threshold_split']} inside the domain"
    )
    return 0


def _run_fit_localiser(args: argparse.Namespace) -> int:
    from fracture_desktop.training.config import LocaliserFitConfig, config_from_options
    from fracture_desktop.training.localiser_fit import fit_localiser

    print(f"wrote {fit_localiser(config_from_options(args, LocaliserFitConfig))}")
    return 0


def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="analyse a folder headless and write CSV / PDF reports",
        description="Exit codes: 0 done, 2 usage error, 3 no usable model, 4 nothing "
        "analysed, 5 report not written, 130 interrupted (docs/REPORTS.md).",
    )
    p.add_argument("folder", type=Path, help="folder (or file) of DICOM / JPEG / PNG images")
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the CSV report here")
    p.add_argument("--pdf", type=Path, metavar="OUT.pdf", help="write the PDF report here")
    p.add_argument("--deidentify", action="store_true", help="no patient name, ID, birth date")
    p.add_argument("--overwrite", action="store_true", help="replace existing report files")
    p.add_argument("--decisions", type=Path, metavar="FILE", help="reader decisions file")
    p.add_argument(
        "--dicom-out",
        type=Path,
        metavar="DIR",
        help="write DICOM results here: per study an SR (TID 1500), a KOS and GSPS",
    )
    p.add_argument(
        "--secondary-capture",
        action="store_true",
        help="with --dicom-out: also a Secondary Capture per flagged image, boxes burnt in",
    )
    _add_model_options(p)
    p.add_argument(
        "--summary-json",
        type=Path,
        metavar="OUT.json",
        help="write counts, images outside the domain and the folder shift test here",
    )
    p.add_argument(
        "--card-thresholds",
        action="store_true",
        help="use the model card's thresholds even when a site profile is adopted",
    )


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check the model on your own labelled cases; optionally adopt site thresholds",
        description="FOLDER holds Fractured/ and Non_fractured/ (any case; also 'not "
        "fractured', not_fractured), or --labels maps paths to 0/1. Exit codes as scan's.",
    )
    p.add_argument("folder", type=Path, help="folder of labelled images")
    p.add_argument("--labels", type=Path, metavar="CSV", help="columns path,label (0 or 1)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write the results here")
    p.add_argument("--pdf", type=Path, metavar="OUT.pdf", help="write a one-page PDF here")
    p.add_argument(
        "--adopt",
        action="store_true",
        help="store the site thresholds as this model's site profile (viewer and scan use it)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    _add_model_options(p)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """The model, its device and its CPU threads, as every command that scores images takes
    them."""
    p.add_argument("--model", type=Path, metavar="DIR", help=MODEL_HELP)
    p.add_argument("--device", choices=DEVICES, default="auto", help="model device")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="model threads (0: auto)")


def _add_listen(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "listen",
        help="a DICOM node: receive radiographs, triage each study, write (and send) SR/KOS/GSPS",
        description="Exit codes: 0 stopped (Ctrl+C), 2 usage error, 3 no usable model, "
        "5 cannot listen or write (docs/REPORTS.md).",
    )
    p.add_argument("--port", type=int, default=11112, help="TCP port (default 11112)")
    p.add_argument("--ae-title", default="FRACTURE", help="our AE title (default FRACTURE)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="instances, results")
    p.add_argument("--send-to", metavar="AE@HOST:PORT", help="C-STORE the results there")
    p.add_argument("--allow", nargs="+", metavar="AE", help="accept only these calling AEs")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--max-mb", type=float, default=256, help="largest instance accepted, MB")
    p.add_argument("--deidentify", action="store_true", help="blank patient identifiers")
    p.add_argument("--card-thresholds", action="store_true", help="ignore a site profile")
    _add_model_options(p)


def _run_validate(args: argparse.Namespace) -> int:
    from fracture_desktop.validate import run_validate

    return run_validate(args)


def _run_scan(args: argparse.Namespace) -> int:
    from fracture_desktop.batch import run_scan

    return run_scan(args)


def _run_viewer(argv: list[str]) -> int:
    viewer = argparse.ArgumentParser(prog="fracture-desktop", description="open the viewer")
    viewer.add_argument("folder", nargs="?", type=Path, help="folder of images to open")
    args = viewer.parse_args(argv)
    from fracture_desktop.gui.app import run_viewer

    return run_viewer(args.folder)


def build_parser(train_options: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fracture-desktop", description=__doc__)
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the installation end to end on the bundled samples, no window; exit 0 if ok",
    )
    parser.add_argument("--model", type=Path, help=f"for --self-test: {MODEL_HELP}")
    sub = parser.add_subparsers(dest="command")
    _add_scan(sub)
    _add_validate(sub)
    _add_listen(sub)
    _add_configured(
        sub, "train", "train a network on FracAtlas (extra 'train')", "TrainConfig", train_options
    )
    _add_evaluate(sub)
    _add_shift(sub)
    _add_export(sub)
    _add_export_onnx(sub)
    _add_fit_domain(sub)
    _add_configured(
        sub,
        "fit-localiser",
        "fit a box head on a released localising model's frozen network",
        "LocaliserFitConfig",
        train_options,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        return _run_viewer(argv)
    parser = build_parser(train_options=bool({"train", "fit-localiser"} & set(argv)))
    args = parser.parse_args(argv)
    if args.self_test:
        if args.command:
            parser.error("--self-test takes no subcommand")
        from fracture_desktop.self_test import run_self_test

        return run_self_test(args.model)
    if args.command == "scan":
        return _run_scan(args)
    if args.command == "listen":
        from fracture_desktop.listen import run_listen

        return run_listen(args)
    if args.command == "validate":
        return _run_validate(args)
    training = {
        "train": _run_train,
        "evaluate": _run_evaluate,
        "shift": _run_shift,
        "export-model": _run_export,
        "export-onnx": _run_export_onnx,
        "fit-domain": _run_fit_domain,
        "fit-localiser": _run_fit_localiser,
    }
    if args.command in training:
        try:
            return training[args.command](args)
        except ModuleNotFoundError as exc:
            # The desktop bundle and plain installs leave out the 'train' extra.
            print(
                f"{args.command} needs the training extra ({exc.name} is missing): "
                "pip install 'fracture-desktop[train]'",
                file=sys.stderr,
            )
            return 2
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
