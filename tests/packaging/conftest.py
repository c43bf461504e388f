"""Fixtures for the packaging tests: the build description and a loadable model."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bundle() -> ModuleType:
    """``build_scripts/bundle.py``, the spec's list of what the bundle holds."""
    spec = importlib.util.spec_from_file_location("bundle", ROOT / "build_scripts" / "bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tampered_model_dir(model_dir: Path, tmp_path: Path) -> Path:
    """``model_dir`` with one byte of its weights changed after the card was written."""
    copy = shutil.copytree(model_dir, tmp_path / "tampered")
    weights = next(copy.glob("*.pt"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    return copy
