"""Training and evaluation end to end on a handful of real FracAtlas images."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from share_helpers import small_share

from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.model_input import InputSpec, model_input
from fracture_desktop.core.inference.engine import InferenceEngine, frozen
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.core.inference.models import FractureNet
from fracture_desktop.training.config import TrainConfig
from fracture_desktop.training.dataset import build_cache, load_samples, source_samples
from fracture_desktop.training.evaluate import (
    calibrate_run,
    evaluate_model,
    evaluation_samples,
    logits_for,
)
from fracture_desktop.training.export import (
    initialised_from,
    untrained_model_dir,
    write_model_dir,
)
from fracture_desktop.training.metrics import fit_temperature
from fracture_desktop.training.scoring import predict_logits
from fracture_desktop.training.train import train


def test_training_cache_equals_what_the_app_feeds_the_model(
    fracatlas_dir: Path, tmp_path: Path
) -> None:
    samples = source_samples(fracatlas_dir)
    # Include one of the truncated JPEGs: training and app must treat it alike too.
    chosen = [s for s in samples if s.image_id in {"IMG0000025.jpg", "IMG0004028.jpg"}]
    assert len(chosen) == 2
    for spec in (
        InputSpec(256, True, 1),
        InputSpec(128, False, 3),
    ):
        cache = build_cache(chosen, spec, tmp_path)
        for row, sample in zip(cache, chosen, strict=True):
            app = model_input(load_image(sample.path), spec)
            assert app.shape == (spec.channels, spec.size, spec.size)
            for channel in app:
                np.testing.assert_array_equal(row, channel)


def test_samples_follow_folders_and_splits(fracatlas_dir: Path) -> None:
    samples = source_samples(fracatlas_dir)
    assert len(samples) == 3470
    assert {s.split for s in samples} == {"train", "val", "test"}
    # dataset.csv says fractured=0 for this one; the folder (and split file) say fractured.
    (odd,) = [s for s in samples if s.image_id == "IMG0003298.jpg"]
    assert odd.label == 1 and odd.path.parent.name == "Fractured"
    assert all(s.path.is_file() for s in samples[:50])


def test_two_epoch_smoke_run_and_resume(smoke_config: TrainConfig, tmp_path: Path) -> None:
    best = train(smoke_config)
    assert best.is_file()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert all(0.0 <= r["val_auc"] <= 1.0 for r in log)
    # Asking for one more epoch resumes from the checkpoint instead of starting over.
    train(dataclasses.replace(smoke_config, epochs=3))
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2, 3]
    # Fine-tuning at another input size starts from those weights and records the size.
    tuned = dataclasses.replace(
        smoke_config, out=str(tmp_path / "tuned"), epochs=1, input_size=160, init=str(best)
    )
    train(tuned)
    saved = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert (saved["input_size"], saved["init"]) == (160, str(best))
    assert any(p.name.startswith("inputs-160-") for p in (tmp_path / "cache").iterdir())


def test_evaluate_on_an_external_labelled_folder(fracatlas_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "external"
    picks = {"Fractured": ["IMG0000025.jpg", "IMG0000044.jpg"], "Non_fractured": []}
    negatives = sorted((fracatlas_dir / "images" / "Non_fractured").iterdir())[:3]
    picks["Non_fractured"] = [p.name for p in negatives]
    for label, names in picks.items():
        (folder / label.lower()).mkdir(parents=True)
        for name in names:
            shutil.copy(fracatlas_dir / "images" / label / name, folder / label.lower() / name)
    samples = evaluation_samples(folder, "test")
    assert sorted(s.label for s in samples) == [0, 0, 0, 1, 1]
    untrained_model_dir(tmp_path / "model")
    engine = InferenceEngine.load(tmp_path / "model", device="cpu")
    report = evaluate_model(engine, samples, tmp_path / "eval", tmp_path / "cache")
    overall = report["overall"]
    assert overall["n"] == 5 and overall["positives"] == 2
    assert 0.0 <= overall["roc_auc"]["value"] <= 1.0
    point = overall["operating_points"]["fracture"]
    assert point["tp"] + point["fn"] == 2 and point["tn"] + point["fp"] == 3
    assert (tmp_path / "eval" / "roc.png").stat().st_size > 1000
    assert json.loads((tmp_path / "eval" / "report.json").read_text())["model"] == engine.card.label
    # The network as trained, not the engine's copy with its batch norms folded away.
    assert report["parameters"] == sum(p.numel() for p in FractureNet().parameters())


def test_folder_without_labels_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Fractured"):
        load_samples(tmp_path)


def test_a_fine_tune_card_says_what_it_started_from(tmp_path: Path) -> None:
    assert initialised_from(None) is None
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"best_epoch": 3}))
    assert initialised_from(str(run / "best.pt")) == {"best_epoch": 3}
    # A run with its config also says how it was trained, and from what, down the chain.
    model = tmp_path / "model"
    untrained_model_dir(model)
    config = dataclasses.asdict(
        TrainConfig(
            "fracture_net",
            "data",
            str(run),
            ema_decay=0.998,
            init=str(model / "weights.pt"),
            frozen_blocks=3,
        )
    )
    (run / "config.json").write_text(json.dumps(config))
    chained = initialised_from(str(run / "best.pt"))
    assert chained is not None
    assert "--ema-decay 0.998 --frozen-blocks 3" in chained["command"]
    assert chained["initialised_from"]["model"] == "fracture_net-untrained"
    card = json.loads((model / "model_card.json").read_text())
    parent = initialised_from(str(model / "weights.pt"))
    assert parent is not None
    assert (parent["model"], parent["version"]) == (card["id"], card["version"])
    assert parent["sha256"] == card["weights"]["sha256"]
    assert initialised_from(str(tmp_path / "elsewhere.pt")) == {
        "weights": str(tmp_path / "elsewhere.pt")
    }


def test_weight_average_is_what_val_scores_and_best_keeps(
    smoke_config: TrainConfig, tmp_path: Path
) -> None:
    # 12 training images in batches of 8: two optimiser steps per epoch.
    config = dataclasses.replace(smoke_config, epochs=1, ema_decay=0.5)
    best = torch.load(train(config), weights_only=True)
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    averaged = {k.removeprefix("module."): v for k, v in last["ema"].items()}
    weight = "stem.0.weight"
    assert torch.equal(best[weight], averaged[weight])
    assert not torch.equal(best[weight], last["model"][weight])
    # The average's batch-norm statistics are measured for it, not left at their start.
    assert torch.count_nonzero(best["stem.1.running_mean"]) > 0
    FractureNet().load_state_dict(best)
    (record,) = [
        json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    ]
    assert 0.0 <= record["val_auc_raw"] <= 1.0
    # Resuming carries the average on instead of restarting it from the latest weights.
    train(dataclasses.replace(config, epochs=2))
    resumed = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert int(resumed["ema"]["n_averaged"]) == 4


def test_a_model_folder_gets_the_weights_the_app_can_load(tmp_path: Path) -> None:
    # The engine folds batch norms for inference; a folded copy must never be exported.
    folded = frozen(FractureNet())
    with pytest.raises(ValueError, match="do not fit the app's 'fracture_net'"):
        write_model_dir(
            folded.state_dict(), "fracture_net", FractureNet.input_spec, tmp_path / "m", {}
        )
    assert not (tmp_path / "m").exists()


def test_a_mirror_averaged_run_is_calibrated_on_mirror_averaged_logits(
    fracatlas_dir: Path, tmp_path: Path
) -> None:
    # A FracAtlas-shaped share with six val images, and a run with random weights.
    data = tmp_path / "fracatlas"
    chosen = small_share(fracatlas_dir, data, 3, ("val",))
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"arch": "fracture_net"}))
    torch.manual_seed(0)
    torch.save(FractureNet().state_dict(), run / "best.pt")

    plain, _ = calibrate_run(run, [data], tmp_path / "cache")
    mirrored, parts = calibrate_run(run, [data], tmp_path / "cache", mirror_average=True)
    assert not plain.card.mirror_average and mirrored.card.mirror_average
    assert isinstance(mirrored.model, MirrorAverage)
    inputs = build_cache(chosen, FractureNet.input_spec, tmp_path / "cache")
    logits = predict_logits(plain.model, inputs, 1)
    logits_of_mirrors = predict_logits(plain.model, np.ascontiguousarray(inputs[:, :, ::-1]), 1)
    expected = (logits + logits_of_mirrors) / 2
    np.testing.assert_allclose(
        logits_for(mirrored, chosen, tmp_path / "cache"), expected, atol=1e-5
    )
    # The temperature is fitted to those mean logits.
    labels = np.array([s.label for s in chosen])
    assert parts["calibration"]["temperature"] == pytest.approx(
        fit_temperature(labels, expected), rel=1e-3
    )
    report = evaluate_model(mirrored, chosen, tmp_path / "eval", tmp_path / "cache")
    assert report["mirror_average"] is True
