"""Training sources are data: FracAtlas, the MURA-derived set and a third folder load alike,
train together, and are scored and calibrated per source."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from share_helpers import small_share

from fracture_desktop.training.acquisition import source_weights
from fracture_desktop.training.config import TrainConfig
from fracture_desktop.training.dataset import (
    load_sources,
    source_boxes,
    source_samples,
)
from fracture_desktop.training.export import release_model
from fracture_desktop.training.loop import Validation
from fracture_desktop.training.train import train


@pytest.fixture
def two_sources(fracatlas_dir: Path, mura_dir: Path, tmp_path: Path) -> list[Path]:
    """Four images per class and split of each source, in folders named as the shares."""
    roots = [tmp_path / "fracatlas", tmp_path / "mura_roboflow"]
    for source, root in zip((fracatlas_dir, mura_dir), roots, strict=True):
        small_share(source, root, 4, ("train", "val", "test"))
    return roots


def test_each_source_keeps_its_name_regions_and_boxes(two_sources: list[Path]) -> None:
    samples, boxes = load_sources(two_sources)
    counts = Counter((s.source, s.split, s.label) for s in samples)
    assert set(counts.values()) == {4} and len(counts) == 12
    mura = [s for s in samples if s.source == "mura_roboflow"]
    # The MURA-derived set names the region of its fractured images only, and has no
    # hardware column: unknown, not "no hardware".
    assert {s.region for s in mura if s.label} <= {
        "finger", "wrist", "forearm", "elbow", "humerus", "shoulder"
    }  # fmt: skip
    assert {s.region for s in mura if not s.label} == {"unknown"}
    assert {s.hardware for s in mura} == {None}
    assert {s.hardware for s in samples if s.source == "fracatlas"} <= {True, False}
    # Corner boxes become COCO (x, y, w, h) in the stored image's pixels.
    written = json.loads((two_sources[1] / "annotations/boxes.json").read_text())
    first = next(s for s in mura if s.label)
    x0, y0, x1, y1 = written[first.image_id][0]["box"]
    found = boxes[first.image_id]
    assert found.boxes[0] == pytest.approx((x0, y0, x1 - x0, y1 - y0))
    with Image.open(first.path) as image:
        assert (found.width, found.height) == image.size
    # Boxes of images the share does not hold are left out.
    assert set(source_boxes(two_sources[1])) == {s.image_id for s in mura if s.label}


def test_a_third_source_needs_no_code(fracatlas_dir: Path, tmp_path: Path) -> None:
    # Only splits.csv and class folders: no metadata, no boxes.
    root = tmp_path / "third"
    rows = ["image_id,label,split"]
    for sample in [s for s in source_samples(fracatlas_dir) if s.split == "val"][:6]:
        folder = root / "images" / ("fractured" if sample.label else "not fractured")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.path, folder / f"T{sample.image_id}")
        rows.append(f"T{sample.image_id},{sample.label},val")
    (root / "images" / "not fractured").rename(root / "images" / "Not_Fractured")
    (root / "splits.csv").write_text("\n".join(rows) + "\n")
    samples, boxes = load_sources([root])
    assert [s.path.is_file() for s in samples] == [True] * 6
    assert {s.source for s in samples} == {"third"} and boxes == {}


def test_repeated_image_ids_across_sources_are_refused(fracatlas_dir: Path) -> None:
    with pytest.raises(ValueError, match="repeat across sources"):
        load_sources([fracatlas_dir, fracatlas_dir])


def test_draws_give_each_source_the_same_share_of_each_class() -> None:
    labels = np.array([1] * 10 + [0] * 40 + [1] * 30 + [0] * 20)
    sources = np.array([0] * 50 + [1] * 50)
    weights = source_weights(labels, sources)
    for label in (0, 1):
        shares = [weights[(labels == label) & (sources == s)].sum() for s in (0, 1)]
        assert shares[0] == pytest.approx(shares[1])
    # Each class keeps its share of the data.
    assert weights[labels == 1].sum() == pytest.approx(40 / 100)


def test_the_epoch_is_scored_on_the_worse_source() -> None:
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    sources = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # Source a ranked perfectly, source b backwards.
    logits = np.array([0.0, 1.0, 0.1, 0.9, 1.0, 0.0, 0.9, 0.1])
    score, fields = Validation(np.zeros((8, 2, 2)), labels, 1, ("a", "b"), sources).score(logits)
    assert fields["val_auc_a"] == 1.0 and fields["val_auc_b"] == 0.0
    assert score == fields["val_auc"] == 0.0
    assert 0.0 < fields["val_auc_pooled"] < 1.0
    alone, one = Validation(np.zeros((8, 2, 2)), labels, 1).score(logits)
    assert alone == one["val_auc"] == fields["val_auc_pooled"]


def test_a_two_source_toy_run_logs_both_sources_chooses_on_the_worse_and_exports(
    two_sources: list[Path], smoke_config: TrainConfig, tmp_path: Path
) -> None:
    config = dataclasses.replace(
        smoke_config, data=tuple(map(str, two_sources)), limit=4, epochs=2, shift_robust=True
    )
    best = train(config)
    assert best.is_file()
    log = [json.loads(line) for line in (Path(config.out) / "log.jsonl").read_text().splitlines()]
    for record in log:
        per_source = [record["val_auc_fracatlas"], record["val_auc_mura_roboflow"]]
        assert record["val_auc"] == min(per_source)
    summary = json.loads((Path(config.out) / "summary.json").read_text())
    assert summary["best_val_auc"] == max(r["val_auc"] for r in log)
    # Released on both: one calibration and domain check on both vals and trains, each
    # source's test scored on its own, and the card says so.
    card = release_model(
        Path(config.out), two_sources, tmp_path / "model", tmp_path / "eval", "toy-v1", "1.0.0",
        Path(config.cache_dir),
    )  # fmt: skip
    document = card.raw
    assert document["thresholds"]["doubt"]["sources"] == "fracatlas + mura_roboflow"
    assert document["domain"]["sources"] == "fracatlas + mura_roboflow"
    assert document["domain"]["fitted_on"] == "train (16 images)"
    assert "MURA" in document["training"]["data_credit"]
    per_source = document["metrics"]["per_source"]
    assert {name: found["overall"]["n"] for name, found in per_source.items()} == {
        "fracatlas": 8, "mura_roboflow": 8
    }  # fmt: skip
    assert document["metrics"]["overall"]["n"] == 16
    for name in ("fracatlas", "mura_roboflow", "pooled"):
        assert (tmp_path / "eval" / name / "report.json").is_file()
