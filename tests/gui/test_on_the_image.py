"""What the image itself says: the model's flag, a turn or mirror (laterality), corner texts
readable on bright bone and after Invert, box labels legible, apart and explained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import FakeEngine, open_and_wait, select
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui


@pytest.fixture
def bright_folder(tmp_path: Path) -> Path:
    """Two bright, textured pictures (bone-like grey 200-250 everywhere)."""
    folder = tmp_path / "bright"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for name in ("a_flagged.png", "b_normal.png"):
        grey = rng.integers(200, 251, size=(480, 480), dtype=np.uint8)
        QImage(grey.data, 480, 480, 480, QImage.Format.Format_Grayscale8).save(str(folder / name))
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


def test_box_labels_are_legible_apart_and_explained(
    qtbot, make_window, bright_folder: Path
) -> None:
    from test_boxes import label_on_screen

    from fracture_desktop.core.boxes import Box

    boxes = (
        Box(100.0, 100.0, 200.0, 200.0, 0.25),
        Box(104.0, 103.0, 190.0, 220.0, 0.21),  # corners a few pixels apart
        Box(98.0, 108.0, 150.0, 150.0, 0.12),
    )
    engine = FakeEngine({"a_flagged.png": 1.0}, boxes={"a_flagged.png": boxes})
    window = make_window(engine=engine)
    open_and_wait(qtbot, window, bright_folder)
    view = window.view
    select(qtbot, window, "a_flagged.png")
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=20000):
        window.reading.analyse_folder()
    qtbot.waitUntil(lambda: view.box_overlay.shown == boxes, timeout=5000)
    assert view.flag_text == "Model: Fracture 100%"
    line = QFontMetrics(QApplication.font()).height()
    for step in ("fitted", "zoomed out", "turned"):
        qtbot.wait(50)
        plates = view.box_overlay.labels
        rects = [label_on_screen(view, plate) for plate in plates]
        for i, rect in enumerate(rects):
            assert rect.height() >= 1.1 * line  # larger than the interface's own text
            assert not any(rect.intersects(other) for other in rects[i + 1 :]), step
        texts = [plate.childItems()[0] for plate in plates]
        assert [t.text() for t in texts] == ["box 0.25", "box 0.21", "box 0.12"]
        assert all(t.font().bold() for t in texts)
        view.zoom_by(0.5) if step == "fitted" else window.act_rotate.trigger()
    # A box scored 0.25 on a "Fracture 100%" image: the tooltips say why both hold.
    for item in (view.box_overlay.labels[0], view.box_overlay.labels[0].parentItem()):
        assert "Box score 0.25" in item.toolTip()
        assert "not the image's probability of fracture" in item.toolTip()
    assert "box score" in window.act_boxes.toolTip()


def test_the_side_the_header_names_is_said_on_the_image(
    qtbot, make_window, tmp_path: Path
) -> None:
    import pydicom

    from fracture_desktop.core.paths import resources_root

    folder = tmp_path / "sides"
    folder.mkdir()
    ds = pydicom.dcmread(resources_root() / "samples/dicom/CR_hip_RG2_JPLY_fixed.dcm")
    ds.ImageLaterality = "R"  # PS3.3 C.7.6.2; the series says nothing (Laterality empty)
    ds.save_as(folder / "hip.dcm")
    window = make_window()
    open_and_wait(qtbot, window, folder)
    assert window.session.current.laterality == "R"
    assert window.view.corner_texts()[2].splitlines()[:3] == ["CR", "HIP", "Right side"]
