"""Print the comparison table of docs/MODEL.md from evaluation and run folders.

Speed is left to ``benchmarks/model_speed.py``: timings taken during evaluation depend on
whatever else the machine was doing, so they are measured apart, on an idle machine.

Usage: ``python -m fracture_desktop.training.compare NAME=EVAL_DIR:RUN_DIR ...``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HEADER = (
    "| model | input | parameters | epochs (best) | train time | test ROC-AUC [95% CI] "
    "| test PR-AUC [95% CI] | sens / spec @fracture | sens / spec @doubt "
    "| acc / prec / rec / F1 @0.5 | pointing game (chance) "
    "| energy in boxes (chance) |"
)


def _ci(metric: dict[str, float]) -> str:
    return f"{metric['value']:.3f} [{metric['low']:.3f}-{metric['high']:.3f}]"


def _rates(point: dict[str, float]) -> str:
    return f"{point['recall_sensitivity']:.2f} / {point['specificity']:.2f}"


def row(name: str, report: dict[str, Any], run: dict[str, Any], input_text: str) -> str:
    """One markdown row for a model's test report and its training summary."""
    overall = report["overall"]
    points = overall["operating_points"]
    half = points["0.5"]
    paper = (
        f"{half['accuracy']:.3f} / {half['precision']:.2f} / "
        f"{half['recall_sensitivity']:.2f} / {half['f1']:.2f}"
    )
    loc = report.get("localisation")
    pointing = energy = "n/a"
    if loc:
        chance = loc["chance_box_area_fraction"]
        pointing = f"{loc['pointing_game_hit_rate']:.2f} ({chance:.3f})"
        energy = f"{loc['energy_inside_boxes']:.3f} ({chance:.3f})"
    cells = [
        name,
        input_text,
        f"{report['parameters'] / 1e6:.2f} M",
        f"{run['epochs_run']} ({run['best_epoch']})",
        f"{run['train_seconds'] / 60:.0f} min",
        _ci(overall["roc_auc"]),
        _ci(overall["pr_auc"]),
        _rates(points["fracture"]),
        _rates(points["doubt"]),
        paper,
        pointing,
        energy,
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str]) -> int:
    from fracture_desktop.training.architectures import run_architecture

    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|")
    for item in argv:
        name, dirs = item.split("=", 1)
        eval_dir, run_dir = (Path(p) for p in dirs.split(":"))
        report = json.loads((eval_dir / "report.json").read_text())
        run = json.loads((run_dir / "summary.json").read_text())
        config = json.loads((run_dir / "config.json").read_text())
        spec = run_architecture(config).input_spec
        shape = "letterbox" if spec.letterbox else "stretched"
        mirror = ", mirror-averaged" if report.get("mirror_average") else ""
        print(row(name, report, run, f"{spec.size} px {shape}, {spec.channels} ch{mirror}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
