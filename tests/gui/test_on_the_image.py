"""What the image itself says: the model's flag, a turn or mirror (laterality), corner texts
readable on bright bone and after Invert, box labels legible, apart and explained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import FakeEngine, open_and_wait
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from test_reading_comfort import select

pytestmark = pytest.mark.gui


@pytest.fixture
def bright_folder(tmp_path: Path) -> Path:
    """Two bright, textured pictures (bone-like grey 200-250 everywhere)."""
    folder = tmp_path / "bright"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for name in ("a_flagged.png", "b_normal.png"):
        grey = rng.integers(200, 251, size=(480, 480), dtype=np.uint8)
        QImage(grey.data, 480, 480, 480, QImage.Format.Format_Grayscale8).save(
            str(folder / name)
        )
    return folder


def luminance(view, rect: QRect) -> np.ndarray:
    """Grey levels of ``rect`` (view coordinates) as the screen shows it, overlays included."""
    shot = view.grab(rect).toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    w, h = shot.width(), shot.height()
    return np.frombuffer(shot.constBits(), np.uint8).reshape(h, shot.bytesPerLine())[:, :w]


def test_the_image_says_its_flag_and_how_it_is_turned(
    qtbot, make_window, bright_folder: Path
) -> None:
    window = make_window(engine=FakeEngine({"a_flagged.png": 0.9}))
    open_and_wait(qtbot, window, bright_folder)
    view = window.view
    select(qtbot, window, "a_flagged.png")
    assert view.flag_text == ""  # not analysed: nothing claimed
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=20000):
        window.reading.analyse_folder()
    qtbot.waitUntil(lambda: view.flag_text == "Model: Fracture 90%")
    select(qtbot, window, "b_normal.png")
    qtbot.waitUntil(lambda: view.flag_text == "Model: No fracture 10%")
    corner = lambda: view.corner_texts()[3]  # noqa: E731
    assert "Turned" not in corner() and "irrored" not in corner()
    QTest.keyClick(window, Qt.Key.Key_R)
    assert corner().endswith("Turned 90\u00b0 clockwise")
    QTest.keyClick(window, Qt.Key.Key_L)
    assert corner().endswith("Mirrored left-right, then turned 90\u00b0 counter-clockwise")
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)  # reset view
    QTest.keyClick(window, Qt.Key.Key_V)
    assert corner().endswith("Flipped top-bottom")
    assert view.overlays.corners[3].text() == corner()  # what is drawn


@pytest.mark.parametrize("invert", [False, True])
def test_corner_texts_read_on_bright_bone_and_after_invert(
    qtbot, make_window, bright_folder: Path, invert: bool
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, bright_folder)
    view = window.view
    view.zoom_by(3.0)  # the bright picture fills the view, under every corner
    if invert:
        QTest.keyClick(window, Qt.Key.Key_I)
        view.set_voi(view.presets[-1])  # full range: inverted, the picture is dark now
    qtbot.wait(50)
    for label in view.overlays.corners:
        if not label.isVisible():
            continue
        rect = QRect(label.mapTo(view, label.rect().topLeft()), label.size())
        grey = luminance(view, rect)
        # A dark box under light letters: the letters stand out whatever lies beneath.
        assert np.median(grey) < 110, label.text()
        assert np.percentile(grey, 99) > 200, label.text()
    assert any(label.isVisible() for label in view.overlays.corners)
