"""The comparison table of docs/MODEL.md and paired differences, from real reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fracture_desktop.training.compare import main
from fracture_desktop.training.paired import compare_reports
from fracture_desktop.training.paired import main as paired_main

EVAL = Path(__file__).parents[2] / "docs" / "eval"


def test_rows_say_what_each_model_saw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = {
        "v2": ("efficientnet_lite0_v2", {"arch": "efficientnet_lite0", "input_size": 320}),
        "v3": ("fracture_net_v3", {"arch": "fracture_net"}),
    }
    args = []
    for name, (report, config) in runs.items():
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps(config))
        summary = {"epochs_run": 6, "best_epoch": 4, "train_seconds": 2933.0}
        (run / "summary.json").write_text(json.dumps(summary))
        shutil.copytree(EVAL / report, tmp_path / report, ignore=shutil.ignore_patterns("*.png"))
        args.append(f"{name}={tmp_path / report}:{run}")
    assert main(args) == 0
    header, rule, v2, v3 = capsys.readouterr().out.splitlines()
    assert header.count("|") == rule.count("|") == v2.count("|") == v3.count("|")
    assert "| 320 px letterbox, 1 ch, mirror-averaged | 3.37 M | 6 (4) | 49 min |" in v2
    assert "| 0.876 [0.829-0.919] |" in v2
    assert "| 256 px letterbox, 1 ch | 1.74 M |" in v3


def test_paired_difference_of_two_committed_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v2, v3 = EVAL / "efficientnet_lite0_v2", EVAL / "fracture_net_v3"
    difference = compare_reports(v2, v3)["roc_auc"]
    own = json.loads((v2 / "report.json").read_text())["overall"]["roc_auc"]["value"]
    other = json.loads((v3 / "report.json").read_text())["overall"]["roc_auc"]["value"]
    assert difference.value == pytest.approx(own - other)
    assert 0.0 < difference.low < difference.value < difference.high
    assert paired_main([str(v2), str(v3)]) == 0
    assert capsys.readouterr().out.startswith(f"roc_auc: A - B = {own - other:+.3f} (95% CI")
    # Reports of different images cannot be paired.
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    rows = json.loads((v3 / "predictions.json").read_text())[:-1]
    (fewer / "predictions.json").write_text(json.dumps(rows))
    with pytest.raises(ValueError, match="same labelled images"):
        compare_reports(v2, fewer)
