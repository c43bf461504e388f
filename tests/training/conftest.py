"""Fixtures for model and training tests: the FracAtlas share, read-only."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fracatlas_dir(shared_dir: Path) -> Path:
    path = shared_dir / "datasets" / "fracatlas"
    if not (path / "splits.csv").is_file():
        pytest.skip("../shared/datasets/fracatlas is not available")
    return path
