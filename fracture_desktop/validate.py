"""``fracture-desktop validate``: check the model on a site's own labelled cases.

The card's metrics and thresholds hold for FracAtlas. Before trusting the flags on its own
images, a site scores a folder of cases whose outcome it knows and reads: ROC-AUC and PR-AUC
with bootstrap intervals, sensitivity and specificity at the card's thresholds, the share of
images outside the model's domain, and thresholds chosen on these cases by the card's own rule
(``docs/MODEL.md``). ``--adopt`` stores those as a site profile
(:mod:`fracture_desktop.core.site_profile`) that the viewer and ``scan`` then use.

Runs with the base install and in the desktop bundle: the model through ONNX Runtime, the
metrics in numpy (:mod:`fracture_desktop.core.metrics`). Exit codes as ``scan``'s
(docs/REPORTS.md).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fracture_desktop.batch import (
    EXIT_NO_MODEL,
    EXIT_NOTHING_ANALYSED,
    EXIT_OK,
    EXIT_USAGE,
    report_not_written,
)
from fracture_desktop.core import metrics
from fracture_desktop.core.atomic import atomic_write, check_writable
from fracture_desktop.core.errors import FractureDesktopError, ModelError
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report import collect_entries
from fracture_desktop.core.shift import findings_shift
from fracture_desktop.core.site_labels import labels_from_csv, labels_from_folders
from fracture_desktop.core.site_profile import profile_from_validation, save_profile
from fracture_desktop.terminal import ProgressBar, print_error

_error = partial(print_error, "validate")


def validation_report(
    labels: np.ndarray,
    probs: np.ndarray,
    outside: np.ndarray,
    card_thresholds: dict[str, float],
) -> dict[str, Any]:
    """The metrics part of a validation: AUCs with intervals, the card's operating points,
    and the site thresholds by the card's rule, or why there are none.

    Parameters
    ----------
    labels, probs, outside : ndarray
        Per scored image: 0 / 1, the calibrated probability, and whether it lies outside the
        model's domain.
    card_thresholds : dict
        ``{"fracture": t, "doubt": t}`` from the model card.
    """
    n_positive, n_negative = int(labels.sum()), int(len(labels) - labels.sum())
    report: dict[str, Any] = {
        "n_positive": n_positive,
        "n_negative": n_negative,
        "n_outside_domain": int(outside.sum()),
        "outside_domain_share": float(outside.mean()) if len(outside) else 0.0,
        "roc_auc": None,
        "roc_auc_ci": None,
        "pr_auc": None,
        "pr_auc_ci": None,
    }
    if n_positive and n_negative:
        for key in ("roc_auc", "pr_auc"):
            interval = metrics.bootstrap_interval(labels, probs, key)
            report[key] = interval.value
            report[f"{key}_ci"] = [interval.low, interval.high]
    report["card_thresholds"] = {
        name: metrics.operating_point(labels, probs, t).as_dict()
        for name, t in card_thresholds.items()
    }
    needed = metrics.minimum_class_size()
    if n_positive < needed or n_negative < needed:
        report["site_thresholds"] = None
        report["site_thresholds_reason"] = (
            f"too few cases: {n_positive} fractured and {n_negative} other images; the card's "
            f"rule (90% with 95% confidence) needs at least {needed} of each"
        )
    else:
        fracture, doubt = metrics.operating_thresholds(labels, probs)
        report["site_thresholds"] = {"fracture": fracture, "doubt": doubt}
        report["site_thresholds_rule"] = metrics.threshold_rules("these images")
        report["site_operating_points"] = {
            name: metrics.operating_point(labels, probs, t).as_dict()
            for name, t in report["site_thresholds"].items()
        }
    return report


def run_validate(args: argparse.Namespace) -> int:
    """Run ``fracture-desktop validate`` with parsed arguments; return the exit code."""
    folder = Path(args.folder)
    if not folder.is_dir():
        _error(f"{folder} is not a folder")
        return EXIT_USAGE
    try:
        for path in (args.json, args.pdf):
            if path is not None:
                check_writable(path, args.overwrite)
        labels = (
            labels_from_csv(args.labels, folder) if args.labels else labels_from_folders(folder)
        )
    except FractureDesktopError as exc:
        _error(exc.reason, exc.details)
        return EXIT_USAGE
    except (OSError, ValueError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    if not labels:
        _error(
            f"no labelled images in {folder}",
            "give Fractured/ and Non_fractured/ folders, or --labels CSV (path,label)",
        )
        return EXIT_USAGE
    from fracture_desktop.core.inference.engines import load_batch_engine

    try:
        engine = load_batch_engine(args.model, args.device, args.threads)
    except ModelError as exc:
        _error(exc.reason, exc.details)
        return EXIT_NO_MODEL
    bar = ProgressBar("Finding", "files")
    scan = scan_folder(folder, progress=bar)
    bar.close()
    records = [r for r in scan.images if r.path.resolve() in labels]
    bar = ProgressBar("Validating", "images")
    entries = collect_entries(records, engine, progress=bar)
    bar.close()
    scored = [e for e in entries if e.finding.probability is not None]
    if not scored:
        _error("none of the labelled images could be analysed")
        return EXIT_NOTHING_ANALYSED
    y = np.array([labels[e.path.resolve()] for e in scored])
    p = np.array([e.finding.probability for e in scored])
    outside = np.array([e.flag is Flag.OUTSIDE_DOMAIN for e in scored])
    card = engine.card
    report: dict[str, Any] = {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "folder": str(folder.resolve()),
        "model": {"id": card.id, "version": card.version, "sha256": card.sha256},
        "n_images": len(scored),
        "n_labelled": len(labels),
        "n_not_analysed": len(labels) - len(scored),
        **validation_report(y, p, outside, asdict(card.thresholds)),
    }
    if engine.domain is not None:
        shift = findings_shift(
            [e.finding for e in scored], engine.domain.val_scores, engine.domain.val_probabilities
        )
        report["shift"] = shift.as_dict() if shift else None
    print_validation(report)
    try:
        if args.json is not None:
            write_json(report, args.json, args.overwrite)
        if args.pdf is not None:
            from fracture_desktop.core.report.validation_pdf import write_validation_pdf

            write_validation_pdf(report, args.pdf, args.overwrite)
    except FractureDesktopError as exc:
        return report_not_written(_error, exc)
    if args.adopt:
        try:
            path = save_profile(profile_from_validation(report, card.sha256))
        except ModelError as exc:
            _error(exc.reason, exc.details)
            return EXIT_USAGE
        print(f"Adopted  site thresholds for {card.label}: {path}")
    return EXIT_OK


def _finite(value: Any) -> Any:
    """``value`` with NaN (a rate of an empty class) as None: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_json(report: dict[str, Any], path: Path, overwrite: bool) -> Path:
    with atomic_write(Path(path), overwrite) as f:
        f.write((json.dumps(_finite(report), indent=2) + "\n").encode("utf-8"))
    return Path(path)


def print_validation(report: dict[str, Any]) -> None:
    """The human summary of a validation, on stdout."""
    model = report["model"]
    print(f"Folder   {report['folder']}")
    print(f"Model    {model['id']} {model['version']} ({model['sha256'][:12]})")
    print(
        f"Images   {report['n_images']} scored ({report['n_positive']} fractured, "
        f"{report['n_negative']} other), {report['n_not_analysed']} not analysed, "
        f"{report['n_outside_domain']} outside the domain "
        f"({report['outside_domain_share']:.0%})"
    )
    for key, name in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC")):
        if report[key] is not None:
            low, high = report[f"{key}_ci"]
            print(f"{name:<8} {report[key]:.3f} (95% CI {low:.3f}-{high:.3f})")
    for name, point in report["card_thresholds"].items():
        print(
            f"  card {name:<8} {point['threshold']:.3f}: sensitivity "
            f"{point['recall_sensitivity']:.3f}, specificity {point['specificity']:.3f}"
        )
    site = report["site_thresholds"]
    if site is None:
        print(f"Site thresholds: none ({report['site_thresholds_reason']})")
    else:
        for name, point in report["site_operating_points"].items():
            print(
                f"  site {name:<8} {point['threshold']:.3f}: sensitivity "
                f"{point['recall_sensitivity']:.3f}, specificity {point['specificity']:.3f}"
            )
    shift = report.get("shift")
    if shift and shift["shift_warning"]:
        print(f"WARNING  {shift['shift_message']}")
