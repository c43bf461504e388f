"""Is model A better than model B on the same images? Paired bootstrap of the difference.

Usage: ``python -m fracture_desktop.training.paired A B``. Each side is an ``evaluate`` or
``export-model`` report folder (its ``predictions.json``) or a ``shift`` report (JSON), all
for the same images; or several of them, comma-separated, for runs of one recipe (seeds):
their mean is compared, with an interval that counts the spread between the runs too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fracture_desktop.training.metrics import Interval, paired_difference


def load_predictions(report: Path) -> dict[str, tuple[int, float]]:
    """``image -> (label, probability)`` from a report folder's ``predictions.json`` or a
    ``shift`` report's ``predictions``."""
    report = Path(report)
    if report.is_dir():
        rows = json.loads((report / "predictions.json").read_text())
    else:
        rows = json.loads(report.read_text())["predictions"]
    return {row["image"]: (int(row["label"]), float(row["probability"])) for row in rows}


def compare_reports(
    reports_a: Path | list[Path], reports_b: Path | list[Path]
) -> dict[str, Interval]:
    """ROC-AUC and PR-AUC of A minus B (each one report, or the mean over several runs of
    one recipe), with paired 95% bootstrap intervals.

    Raises
    ------
    ValueError
        The reports do not all cover the same images with the same labels.
    """
    paths_a = [reports_a] if isinstance(reports_a, Path) else reports_a
    paths_b = [reports_b] if isinstance(reports_b, Path) else reports_b
    loaded = {path: load_predictions(path) for path in [*paths_a, *paths_b]}
    first_path, first = next(iter(loaded.items()))
    for path, other in loaded.items():
        if other.keys() != first.keys() or any(other[k][0] != first[k][0] for k in first):
            raise ValueError(f"{first_path} and {path} do not score the same labelled images")
    images = sorted(first)
    labels = np.array([first[k][0] for k in images])

    def probabilities(paths: list[Path]) -> np.ndarray:
        return np.array([[loaded[path][k][1] for k in images] for path in paths])

    probs_a, probs_b = probabilities(paths_a), probabilities(paths_b)
    return {m: paired_difference(labels, probs_a, probs_b, m) for m in ("roc_auc", "pr_auc")}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sides = [[Path(part) for part in arg.split(",")] for arg in argv]
    for metric, d in compare_reports(*sides).items():
        print(f"{metric}: A - B = {d.value:+.3f} (95% CI {d.low:+.3f} to {d.high:+.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
