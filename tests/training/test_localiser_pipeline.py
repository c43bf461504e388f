"""A localising network through calibration, evaluation, export and the engine."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from share_helpers import small_share

from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.inference.card import LocaliserSettings, load_card
from fracture_desktop.core.inference.engine import InferenceEngine
from fracture_desktop.core.inference.models import ARCHITECTURES
from fracture_desktop.training.dataset import source_boxes
from fracture_desktop.training.evaluate import calibrate_run, evaluate_model, evaluation_samples
from fracture_desktop.training.export import write_model_dir


@pytest.fixture(scope="module")
def calibrated(fracatlas_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("loc")
    data = tmp / "fracatlas"
    small_share(fracatlas_dir, data, 3, ("val", "test"))
    run = tmp / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"arch": "efficientnet_lite0_loc"}))
    torch.manual_seed(0)
    torch.save(ARCHITECTURES["efficientnet_lite0_loc"]().state_dict(), run / "best.pt")
    engine, parts = calibrate_run(run, [data], tmp / "cache")
    return engine, parts, data, tmp


def test_calibration_chooses_the_box_threshold_and_scale_on_val(calibrated) -> None:
    engine, parts, _, _ = calibrated
    chosen = parts["localiser"]
    assert chosen["split"] == "val" and 0.5 <= chosen["shrink"] <= 1.0
    assert engine.card.localiser is not None
    assert engine.card.localiser.threshold == pytest.approx(chosen["threshold"])


def test_evaluation_scores_localiser_and_gradcam_boxes_side_by_side(calibrated) -> None:
    engine, _, data, tmp = calibrated
    test = evaluation_samples(data, "test")
    report = evaluate_model(
        engine, test, tmp / "eval", tmp / "cache", source_boxes(data)
    )
    for source in ("localiser", "gradcam"):
        overall = report["boxes"][source]["overall"]
        assert overall["images"] == 6 and overall["images_with_boxes"] == 3
        assert 0.0 <= overall["pointing_game"] <= 1.0
        assert 0.0 <= overall["ap_at_0.5"] <= 1.0
        assert 0.0 < overall["chance_box_area_fraction"] < 0.1
        assert any(key.startswith("region:") for key in report["boxes"][source])
    assert report["speed_cpu_1_thread"]["predict_with_boxes_ms"] > 0


def test_exported_localiser_predicts_boxes_inside_the_stored_image(calibrated) -> None:
    engine, parts, data, tmp = calibrated
    model = ARCHITECTURES["efficientnet_lite0_loc"]()
    model.load_state_dict(torch.load(tmp / "run" / "best.pt", weights_only=True))
    folder = tmp / "model"
    card = {"id": "loc-test", "version": "0.0.1", **parts, "intended_use": "tests only"}
    write_model_dir(model.state_dict(), "efficientnet_lite0_loc", model.input_spec, folder, card)
    assert load_card(folder).localiser == engine.card.localiser
    loaded = InferenceEngine.load(folder, device="cpu")
    # Every box the map has, to check where they land.
    loaded.card = dataclasses.replace(loaded.card, localiser=LocaliserSettings(threshold=0.0))
    image = load_image(next((data / "images" / "Fractured").iterdir()))
    prediction = loaded.predict(image)
    assert 1 <= len(prediction.boxes) <= 3
    rows, cols = image.shape
    for box in prediction.boxes:
        assert 0 <= box.x0 < box.x1 <= cols and 0 <= box.y0 < box.y1 <= rows
    assert [b.score for b in prediction.boxes] == sorted(
        (b.score for b in prediction.boxes), reverse=True
    )
    assert np.isfinite(prediction.probability)
