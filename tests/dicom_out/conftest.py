"""Fixtures for DICOM results: the sample radiographs, findings made by hand, dciodvfy."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.findings import Finding, Flag, Thresholds
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report.entries import ModelIdentity, ReportEntry

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
#: The flag each sample DICOM gets, in scan order, and whether it has a box.
FLAGS = (Flag.FRACTURE, Flag.NO_FRACTURE, Flag.DOUBT)
MODEL = ModelIdentity(
    id="fracture_net-test",
    version="1.2.3",
    sha256_prefix="ab" * 6,
    thresholds=Thresholds(0.6, 0.4),
    intended_use="Research and reading aid, not a diagnosis.",
    thresholds_source="model card",
    sha256="ab" * 32,
)


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def entries() -> list[ReportEntry]:
    """The samples' DICOM radiographs (three studies) flagged by hand, the first two with a
    box; the JPEGs analysed; one more DICOM copy not analysed."""
    scan = scan_folder(SAMPLES)
    made = []
    dicoms = [r for r in scan.images if r.sop_instance_uid]
    for record, flag in zip(dicoms, FLAGS, strict=True):
        box = Box(10.0, 20.0, 110.0, 220.0, 0.71)
        finding = Finding(record.path, record.sop_instance_uid, flag, 0.5, boxes=(box,))
        made.append(ReportEntry(record.path, finding, record))
    for record in scan.images:
        if not record.sop_instance_uid:
            finding = Finding(record.path, "sha", Flag.NO_FRACTURE, 0.1)
            made.append(ReportEntry(record.path, finding, record))
    return made


@pytest.fixture(scope="session")
def dciodvfy() -> Callable[[Path], tuple[list[str], list[str]]]:
    """``check(path)``: dciodvfy's errors and warnings (Debian package dicom3tools)."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")

    def check(path: Path) -> tuple[list[str], list[str]]:
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        lines = (run.stdout + run.stderr).splitlines()
        errors = [x for x in lines if x.startswith("Error")]
        return errors, [x for x in lines if x.startswith("Warn")]

    return check
