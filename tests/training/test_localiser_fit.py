"""A centre head fitted on a released localiser's frozen network, on a handful of images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from share_helpers import small_share

from fracture_desktop.core.inference.models import ARCHITECTURES
from fracture_desktop.training.centre_targets import centre_targets, focal_loss, size_loss
from fracture_desktop.training.config import LocaliserFitConfig
from fracture_desktop.training.export import write_model_dir
from fracture_desktop.training.localiser_fit import fit_localiser


def test_a_box_becomes_a_peak_of_one_at_its_centre_cell_with_its_log_size() -> None:
    heat, sizes, centres = centre_targets([(40.0, 80.0, 56.0, 88.0)], grid=64, cell=4.0)
    # Centre (48, 84) input px -> cell (row 21, column 12).
    assert heat[21, 12] == 1.0 and centres.sum() == 1 and centres[21, 12]
    assert 0.0 < heat[21, 13] < 1.0 and heat[40, 40] < 1e-6
    assert sizes[:, 21, 12] == pytest.approx(np.log([16.0, 8.0]))
    empty, _, none = centre_targets([], grid=64, cell=4.0)
    assert not empty.any() and not none.any()


def test_focal_loss_prefers_a_peak_at_the_centre_and_size_loss_reads_centres_only() -> None:
    heat = torch.from_numpy(centre_targets([(40.0, 80.0, 56.0, 88.0)], 64, 4.0)[0])[None]
    right = torch.full((1, 64, 64), -6.0)
    right[0, 21, 12] = 4.0
    wrong = torch.full((1, 64, 64), -6.0)
    wrong[0, 50, 50] = 4.0
    assert focal_loss(right, heat) < focal_loss(wrong, heat)
    centres = torch.zeros(1, 64, 64, dtype=torch.bool)
    centres[0, 21, 12] = True
    target = torch.zeros(1, 2, 64, 64)
    target[0, :, 21, 12] = 2.0
    predicted = torch.zeros(1, 2, 64, 64)
    assert size_loss(predicted, target, centres).item() == pytest.approx(2.0)
    assert size_loss(predicted, target, torch.zeros_like(centres)).item() == 0.0


@pytest.fixture
def share(fracatlas_dir: Path, tmp_path: Path) -> Path:
    """Two fractured and two normal images of train and of val."""
    small_share(fracatlas_dir, tmp_path / "fracatlas", 2, ("train", "val"))
    torch.manual_seed(0)
    return tmp_path / "fracatlas"


def assert_only_the_head_changed(best: Path, arch: str, kept: dict, head: str) -> None:
    """The fitted weights at ``best`` equal ``kept`` everywhere but in ``head``."""
    fitted = ARCHITECTURES[arch]()
    fitted.load_state_dict(torch.load(best, weights_only=True))
    for key, value in fitted.state_dict().items():
        if not key.startswith(head):
            assert torch.equal(value, kept[key]), key


def test_fit_keeps_the_classifier_and_writes_a_run_export_model_reads(
    share: Path, tmp_path: Path
) -> None:
    released = ARCHITECTURES["efficientnet_lite0_loc"]()
    card = {
        "id": "loc-test",
        "version": "0.0.1",
        "calibration": {"temperature": 1.0},
        "thresholds": {
            "fracture": {"value": 0.5, "rule": "test"},
            "doubt": {"value": 0.2, "rule": "test"},
        },
        "intended_use": "tests only",
    }
    write_model_dir(
        released.state_dict(), "efficientnet_lite0_loc", released.input_spec, tmp_path / "m", card
    )
    config = LocaliserFitConfig(
        model=str(tmp_path / "m"),
        data=(str(share),),
        out=str(tmp_path / "run"),
        epochs=2,
        views=2,
        framing=True,
        cache_dir=str(tmp_path / "cache"),
    )
    best = fit_localiser(config)
    assert_only_the_head_changed(
        best, "efficientnet_lite0_boxes", released.state_dict(), "_localiser."
    )
    run_config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert run_config["arch"] == "efficientnet_lite0_boxes"
    assert run_config["command"].startswith("fracture-desktop fit-localiser --model ")
    assert " --framing " in run_config["command"]
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert all(np.isfinite(r["focal_loss"]) and 0 <= r["val_pointing_game"] <= 1 for r in log)
