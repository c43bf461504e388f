"""Fixtures for model and training tests: the FracAtlas share, read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

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
