"""Reading comfort: gestures with one meaning, nothing stale, nothing cut off."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import drag, open_and_wait
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui

MONOCHROME1 = Path("dicom/nema-wg04/REF/RG3_UNC")  # CR tibia, MONOCHROME1, 10-bit
MONOCHROME2 = Path("dicom/pydicom_3.0.2/MR_small.dcm")


def select(qtbot, window, name: str) -> None:
    record = next(r for r in window.records.values() if r.path.name == name)
    window.browser.select_record(record)
    qtbot.waitUntil(lambda: window.view.record == record, timeout=10000)


def screen_brightness(view) -> float:
    """Mean grey of what the image view shows on screen (0-255)."""
    shot = (
        view.graphics.viewport().grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    )
    width, height = shot.width(), shot.height()
    pixels = np.frombuffer(shot.constBits(), np.uint8).reshape(height, shot.bytesPerLine())
    return float(pixels[:, :width].mean())


@pytest.fixture
def photometric_folder(tmp_path: Path, shared_dir: Path) -> Path:
    folder = tmp_path / "photometric"
    folder.mkdir()
    for source in (MONOCHROME1, MONOCHROME2):
        if not (shared_dir / source).is_file():
            pytest.skip(f"{source} is not available")
        shutil.copy(shared_dir / source, folder / source.name)
    return folder


@pytest.mark.parametrize("name", [MONOCHROME1.name, MONOCHROME2.name])
@pytest.mark.parametrize("user_invert", [False, True])
def test_dragging_down_darkens_on_every_photometric_interpretation(
    qtbot, make_window, photometric_folder: Path, name: str, user_invert: bool
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, photometric_folder)
    select(qtbot, window, name)
    view = window.view
    assert view.image.invert == (name == MONOCHROME1.name)
    view.set_inverted(user_invert)
    viewport = view.graphics.viewport()
    centre = viewport.rect().center()
    before = screen_brightness(view)
    drag(viewport, centre, centre + QPoint(0, 60))
    darker = screen_brightness(view)
    assert darker < before - 3
    qtbot.wait(QApplication.doubleClickInterval() + 50)  # a second drag, not a double click
    drag(viewport, centre, centre + QPoint(0, -120))
    assert screen_brightness(view) > darker + 3
