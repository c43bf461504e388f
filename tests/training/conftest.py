"""Fixtures for model and training tests: the FracAtlas share, read-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from share_helpers import small_share

from fracture_desktop.training.config import TrainConfig


@pytest.fixture
def smoke_config(fracatlas_dir: Path, tmp_path: Path) -> TrainConfig:
    """A FractureNet run on 12 images per split, small batches: seconds, not hours."""
    return TrainConfig(
        arch="fracture_net",
        data=(str(fracatlas_dir),),
        out=str(tmp_path / "run"),
        epochs=2,
        limit=12,
        cache_dir=str(tmp_path / "cache"),
        batch_size=8,
    )


@pytest.fixture
def two_sources(fracatlas_dir: Path, mura_dir: Path, tmp_path: Path) -> list[Path]:
    """Four images per class and split of each source, in folders named as the shares."""
    roots = [tmp_path / "fracatlas", tmp_path / "mura_roboflow"]
    for source, root in zip((fracatlas_dir, mura_dir), roots, strict=True):
        small_share(source, root, 4, ("train", "val", "test"))
    return roots
