"""Is model A better than model B on the same images? Paired bootstrap of the difference.

Usage: ``python -m fracture_desktop.training.paired EVAL_A EVAL_B``, each an ``evaluate`` or
``export-model`` report folder (its ``predictions.json``) for the same images.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fracture_desktop.training.metrics import Interval, paired_difference


def load_predictions(eval_dir: Path) -> dict[str, tuple[int, float]]:
    """``image -> (label, probability)`` from a report folder's ``predictions.json``."""
    rows = json.loads((Path(eval_dir) / "predictions.json").read_text())
    return {row["image"]: (int(row["label"]), float(row["probability"])) for row in rows}


def compare_reports(eval_a: Path, eval_b: Path) -> dict[str, Interval]:
    """ROC-AUC and PR-AUC of A minus B, with paired 95% bootstrap intervals.

    Raises
    ------
    ValueError
        The two reports do not cover the same images with the same labels.
    """
    a, b = load_predictions(eval_a), load_predictions(eval_b)
    if a.keys() != b.keys() or any(a[k][0] != b[k][0] for k in a):
        raise ValueError(f"{eval_a} and {eval_b} do not score the same labelled images")
    images = sorted(a)
    labels = np.array([a[k][0] for k in images])
    probs_a = np.array([a[k][1] for k in images])
    probs_b = np.array([b[k][1] for k in images])
    return {m: paired_difference(labels, probs_a, probs_b, m) for m in ("roc_auc", "pr_auc")}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for metric, d in compare_reports(Path(argv[0]), Path(argv[1])).items():
        print(f"{metric}: A - B = {d.value:+.3f} (95% CI {d.low:+.3f} to {d.high:+.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
