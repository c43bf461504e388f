"""The log handler and early stopping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toy_training import ToyNet, toy_run

from fracture_desktop.training.handlers.early_stop import EarlyStop
from fracture_desktop.training.handlers.log import EpochLog


def test_each_epoch_is_one_json_line_and_each_step_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = EpochLog(tmp_path / "log.jsonl")
    run = toy_run(ToyNet(), [log])
    run.step, run.steps, run.loss_total, run.seen = 1, 2, 3.0, 4
    log.after_step(run)
    assert "epoch   1 [###############---------------] 1/2 loss 0.7500" in capsys.readouterr().err
    for epoch in (1, 2):
        log.after_epoch(run, {"epoch": epoch, "val_auc": 0.5})
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"epoch": 1, "val_auc": 0.5},
        {"epoch": 2, "val_auc": 0.5},
    ]
    assert '{"epoch": 2, "val_auc": 0.5}' in capsys.readouterr().err


def test_the_run_stops_after_patience_epochs_without_a_gain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stop = EarlyStop(patience=3)
    run = toy_run(ToyNet(), [stop])
    run.state.update(best_epoch=4)
    decisions = []
    for epoch in (5, 6, 7):
        run.state["epoch"] = epoch
        decisions.append(stop.should_stop(run))
    assert decisions == [False, False, True]
    assert "no val gain for 3 epochs" in capsys.readouterr().err
