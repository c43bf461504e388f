"""Fixtures for DICOM results: the sample radiographs, findings made by hand, dciodvfy."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.dicom_conformance import dciodvfy as check_with_dciodvfy
from fracture_desktop.core.report.entries import ReportEntry
from tests.dicom_out.dicom_helpers import SAMPLES, sample_entries


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def entries() -> list[ReportEntry]:
    return sample_entries()


@pytest.fixture(scope="session")
def dciodvfy() -> Callable[[Path], tuple[list[str], list[str]]]:
    """``check(path)``: dciodvfy's errors and warnings (Debian package dicom3tools)."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    return check_with_dciodvfy


@pytest.fixture(scope="session")
def flagging_model(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untrained model with both thresholds at the smallest the card check accepts:
    every image it analyses is flagged "fracture", so that a study gets an SR, a KOS and a
    GSPS per image."""
    directory = tmp_path_factory.mktemp("flagging") / "fracture_net-flags-all"
    shutil.copytree(model_dir, directory)
    card_path = directory / "model_card.json"
    card = json.loads(card_path.read_text())
    for name in ("fracture", "doubt"):
        card["thresholds"][name]["value"] = 1e-9
    card_path.write_text(json.dumps(card, indent=2))
    return directory
