"""Shift-robust training: acquisition noise, source-balanced draws, hold-outs, benchmarks."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from share_helpers import small_share
from sklearn.metrics import roc_auc_score

from fracture_desktop import cli
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.model_input import InputSpec, model_input
from fracture_desktop.training.acquisition import (
    _collimate,
    acquisition_noise,
    side_by_side,
    source_weights,
)
from fracture_desktop.training.config import TrainConfig, command_line, config_from_record
from fracture_desktop.training.dataset import (
    HOLDOUTS,
    held_out_images,
    holdout_subset,
    original_long_sides,
    source_bins,
    source_samples,
)
from fracture_desktop.training.export import untrained_model_dir
from fracture_desktop.training.paired import compare_reports
from fracture_desktop.training.shift import REACQUISITIONS, reacquired
from fracture_desktop.training.train import train


def test_source_weights_draw_each_source_equally_within_each_class() -> None:
    labels = np.array([0] * 90 + [0] * 10 + [1] * 15 + [1] * 5)
    sources = np.array([0] * 90 + [2] * 10 + [0] * 15 + [2] * 5)
    p = source_weights(labels, sources)
    assert p.sum() == pytest.approx(1.0)
    for label in (0, 1):
        in_class = labels == label
        # Each class keeps its share; within it, both sources get half.
        assert p[in_class].sum() == pytest.approx(in_class.mean())
        assert p[in_class & (sources == 0)].sum() == pytest.approx(p[in_class].sum() / 2)


def test_two_images_on_one_film_carry_either_fracture() -> None:
    np.random.seed(0)
    images = torch.rand(4, 1, 32, 32)
    masks = torch.zeros(4, 1, 32, 32, dtype=torch.uint8)
    masks[1, 0, 10:14, 10:14] = 1
    labels = torch.tensor([0.0, 1.0, 0.0, 0.0])
    known = torch.tensor([True, True, True, False])
    out, out_masks, out_labels, out_known = side_by_side(images, masks, labels, known, 1.0)
    for i in range(4):
        # Every film became two halves; a film holding image 1 is fractured with its mask.
        assert out[i].shape == images[i].shape
        assert bool(out_masks[i].any()) == bool(out_labels[i])
    assert out_labels[1] == 1 and not out_known[3], "a film keeps its own fracture and doubt"
    assert torch.equal(labels, torch.tensor([0.0, 1.0, 0.0, 0.0])), "inputs are not changed"


def test_acquisition_noise_keeps_range_and_collimation_never_hides_a_fracture() -> None:
    np.random.seed(1)
    torch.manual_seed(1)
    image = torch.rand(1, 64, 64) * 0.5
    mask = torch.zeros(1, 64, 64, dtype=torch.uint8)
    mask[0, 2:6, 30:34] = 1  # a fracture near the top edge
    for _ in range(50):
        out = acquisition_noise(image, mask)
        assert out.shape == image.shape and 0.0 <= float(out.min()) <= float(out.max()) <= 1.0
    covered = 0
    for _ in range(200):
        framed = _collimate(image, mask)
        assert torch.equal(framed[0, 2:6, 30:34], image[0, 2:6, 30:34])
        covered += int(not torch.equal(framed, image))
    assert covered > 100, "collimation does cover the borders away from the fracture"


def test_source_bins_follow_the_original_size(fracatlas_dir: Path) -> None:
    samples = source_samples(fracatlas_dir)
    resized = next(s for s in samples if s.image_id == "IMG0000000.jpg")  # 1,760 x 2,140
    sides = original_long_sides([resized, samples[1]], fracatlas_dir)
    assert sides[0] == 2140
    assert source_bins(np.array([600, 601, 1500, 1501])).tolist() == [0, 1, 1, 2]


def test_holdouts_split_sources_and_regions_apart(fracatlas_dir: Path) -> None:
    samples = [s for s in source_samples(fracatlas_dir) if s.split == "test"][:120]
    for name in HOLDOUTS:
        trained = {s.image_id for s in holdout_subset(samples, fracatlas_dir, name, "train")}
        tested = {s.image_id for s in holdout_subset(samples, fracatlas_dir, name, "test")}
        assert not trained & tested, name
    hands = holdout_subset(samples, fracatlas_dir, "no-hand", "test")
    assert hands and all(s.region == "hand" for s in hands)
    with pytest.raises(ValueError, match="unknown hold-out"):
        holdout_subset(samples, fracatlas_dir, "no-such", "train")


def test_every_split_s_held_out_images_are_unseen_and_hold_the_test_split_s(
    fracatlas_dir: Path,
) -> None:
    samples = source_samples(fracatlas_dir)
    test_split = [s for s in samples if s.split == "test"]
    for name in HOLDOUTS:
        unseen = held_out_images(samples, fracatlas_dir, name)
        trained = {s.image_id for s in holdout_subset(samples, fracatlas_dir, name, "train")}
        assert not trained & {s.image_id for s in unseen}, name
        assert {s.split for s in unseen} == {"train", "val", "test"}, name
        tested = holdout_subset(test_split, fracatlas_dir, name, "test")
        assert [s for s in unseen if s.split == "test"] == tested, name
    hands = held_out_images(samples, fracatlas_dir, "no-hand")
    assert all(s.region == "hand" for s in hands)
    assert len(hands) == sum(s.region == "hand" for s in samples)
    # The control trains on some small originals: those are left out of its scoring.
    control = held_out_images(samples, fracatlas_dir, "small-control")
    small = held_out_images(samples, fracatlas_dir, "large-to-small")
    assert {s.image_id for s in control} < {s.image_id for s in small}


def test_shift_scores_a_hold_out_s_images_of_every_split(
    fracatlas_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "share"
    chosen = small_share(fracatlas_dir, data, 8, ("train", "val", "test"))
    hands = [s.image_id for s in chosen if s.region == "hand"]
    assert len({s.split for s in chosen if s.region == "hand"}) > 1
    untrained_model_dir(tmp_path / "model")
    args = ["shift", "--model", str(tmp_path / "model"), "--data", str(data)]
    out = ["--out", str(tmp_path / "r.json"), "--cache-dir", str(tmp_path / "cache")]
    assert cli.main([*args, "--holdout", "no-hand", "--every-split", *out]) == 0
    rows = json.loads((tmp_path / "r.json").read_text())["predictions"]
    assert sorted(row["image"] for row in rows) == sorted(hands)
    with pytest.raises(SystemExit, match="needs --holdout"):
        cli.main([*args, "--every-split", *out])


def test_the_size_control_trains_on_small_originals_as_many_as_large_to_small(
    fracatlas_dir: Path,
) -> None:
    samples = source_samples(fracatlas_dir)
    large = holdout_subset(samples, fracatlas_dir, "large-to-small", "train")
    control = holdout_subset(samples, fracatlas_dir, "small-control", "train")

    def counts(chosen: list) -> Counter:
        return Counter((s.split, s.label) for s in chosen if s.split != "test")

    assert counts(control) == counts(large) and counts(large)[("train", 1)] == 68
    assert not {s.split for s in control} & {"test"}
    bins = source_bins(original_long_sides(control, fracatlas_dir))
    assert (bins == 0).all(), "only small originals"
    # Tested on exactly the images large-to-small is tested on.
    assert holdout_subset(samples, fracatlas_dir, "small-control", "test") == holdout_subset(
        samples, fracatlas_dir, "large-to-small", "test"
    )
    again = holdout_subset(samples, fracatlas_dir, "small-control", "train")
    assert [s.image_id for s in again] == [s.image_id for s in control], "the same draw"


def test_reacquired_images_go_through_the_apps_own_preprocessing(fracatlas_dir: Path) -> None:
    image = load_image(next((fracatlas_dir / "images" / "Fractured").iterdir()))
    spec = InputSpec(256, True, 1)
    clean = model_input(image, spec)
    for name in REACQUISITIONS:
        made = model_input(reacquired(image, name, 0), spec)
        assert made.shape == clean.shape and np.isfinite(made).all(), name
    # The identity window of a re-acquired image shows its pixels unchanged.
    same = dataclasses.replace(reacquired(image, "gamma 0.7", 0))
    assert np.allclose(
        model_input(same, spec), model_input(reacquired(image, "gamma 0.7", 0), spec)
    )
    gamma = model_input(reacquired(image, "gamma 1.5", 0), spec)
    assert gamma.mean() < clean.mean()


def test_shift_robust_localising_smoke_run(smoke_config: TrainConfig, tmp_path: Path) -> None:
    config = dataclasses.replace(
        smoke_config,
        arch="efficientnet_lite0_loc",
        epochs=1,
        shift_robust=True,
        frozen_blocks=3,
        keep_epochs=True,
        holdout="no-hand",
    )
    best = train(config)
    run = Path(config.out)
    (record,) = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert record["map_loss"] > 0 and 0.0 <= record["val_pointing"] <= 1.0
    assert (run / "epoch-001.pt").is_file() and best.is_file()
    state = torch.load(best, weights_only=True)
    assert any(key.startswith("_localiser.") for key in state)
    saved = json.loads((run / "config.json").read_text())
    command = command_line(config_from_record(saved))
    for flag in ("--shift-robust", "--keep-epochs", "--frozen-blocks 3", "--holdout no-hand"):
        assert flag in command
    # The hold-out benchmark scores the run on the hands it never saw, image by image.
    report_path = tmp_path / "ho.json"
    args = ["shift", "--model", str(run), "--data", config.data[0], "--holdout", "no-hand"]
    assert cli.main([*args, "--out", str(report_path), "--cache-dir", config.cache_dir]) == 0
    report = json.loads(report_path.read_text())
    samples = source_samples(Path(config.data[0]))
    hands = [s for s in samples if s.split == "test" and s.region == "hand"]
    predictions = report["predictions"]
    assert [row["image"] for row in predictions] == [s.image_id for s in hands]
    labels = np.array([row["label"] for row in predictions])
    probs = np.array([row["probability"] for row in predictions])
    assert report["clean"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(labels, probs))
    # Two such reports of one recipe against a recipe that ranks every hand right.
    rows = [dict(row, probability=row["label"]) for row in predictions]
    (tmp_path / "perfect.json").write_text(json.dumps(dict(report, predictions=rows)))
    gain = compare_reports([tmp_path / "perfect.json"], [report_path, report_path])["roc_auc"]
    assert gain.value == pytest.approx(1.0 - roc_auc_score(labels, probs))
