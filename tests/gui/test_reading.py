"""Opening a folder and reading: browser, problems, window/level, presets, zoom, measurement."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import IMAGE_COUNT
from gui_helpers import drag, open_and_wait, select
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from fracture_desktop.core.imaging.image import VoiWindow, auto_window
from fracture_desktop.core.imaging.loader import load_image

pytestmark = pytest.mark.gui


def widget_point(view, col: float, row: float) -> QPoint:
    """Viewport position of image pixel coordinates (column, row)."""
    scene = view.image_item.mapToScene(QPointF(col, row))
    return view.graphics.mapFromScene(scene)


def test_open_folder_fills_browser_and_problems(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    counts = window.browser.counts()
    # CT, MR and CR come from three patients; the JPEGs are one "no patient" folder study.
    assert counts == {"patients": 4, "studies": 4, "series": 4, "images": IMAGE_COUNT}
    assert [name for name, _ in window.problems.problems()] == ["broken.dcm"]
    assert window.problems_dock.windowTitle() == "Problems (1)"
    assert len(window.browser.visible_records()) == IMAGE_COUNT
    assert window.status.notices.notices == []  # the broken file is a problem, not an error
    # Thumbnails are made in the worker and end up on the browser's image items.
    qtbot.waitUntil(
        lambda: all(not items[0].icon().isNull() for items in window.browser._images.values()),
        timeout=20000,
    )


def test_drag_changes_window_and_levels_follow(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "MR_small.dcm")
    view = window.view
    before = view.voi
    assert (before.center, before.width) == (600.0, 1600.0)  # the file's window first
    assert view.image_item.getLevels() == pytest.approx((before.lower, before.upper))
    viewport = view.graphics.viewport()
    centre = viewport.rect().center()
    drag(viewport, centre, centre + QPoint(100, 40))
    after = view.voi
    assert after.width > before.width
    assert after.center > before.center
    assert view.image_item.getLevels() == pytest.approx((after.lower, after.upper))
    assert f"W {after.width:.0f} L {after.center:.0f}" in window.status.window_label.text()


def test_presets_on_number_keys(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "MR_small.dcm")
    view = window.view
    values = load_image(sample_folder / "MR_small.dcm").values
    labels = [p.explanation for p in view.presets]
    assert labels[1:] == [
        "auto",
        "bone (estimated)",
        "soft tissue (estimated)",
        "lung (estimated)",
        "full range",
    ]
    QTest.keyClick(window, Qt.Key.Key_2)
    auto = auto_window(values)
    assert view.image_item.getLevels() == pytest.approx((auto.lower, auto.upper))
    QTest.keyClick(window, Qt.Key.Key_6)
    assert view.image_item.getLevels() == pytest.approx((values.min(), values.max()))
    QTest.keyClick(window, Qt.Key.Key_1)
    assert view.image_item.getLevels() == pytest.approx((600 - 800, 600 + 800))
    QTest.keyClick(window, Qt.Key.Key_9)  # no ninth preset: nothing changes
    assert view.image_item.getLevels() == pytest.approx((-200, 1400))


def test_zoom_fit_actual_size_invert(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "CT_small.dcm")
    view = window.view
    viewport = view.graphics.viewport()
    fitted = view.zoom
    # Ctrl+wheel toward a point right of centre: zoom grows, that pixel stays under the cursor.
    at = widget_point(view, 96, 64)
    pixel_before = view.image_item.mapFromScene(view.graphics.mapToScene(at))
    wheel = QWheelEvent(
        QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(viewport, wheel)
    assert view.zoom > fitted * 1.05
    pixel_after = view.image_item.mapFromScene(view.graphics.mapToScene(at))
    assert pixel_after.x() == pytest.approx(pixel_before.x(), abs=1.0)
    assert pixel_after.y() == pytest.approx(pixel_before.y(), abs=1.0)
    QTest.keyClick(window, Qt.Key.Key_A)
    assert view.zoom == pytest.approx(1.0, rel=0.02)
    QTest.keyClick(window, Qt.Key.Key_F)
    assert view.zoom == pytest.approx(fitted, rel=0.02)
    shown = view.viewbox.viewRect()
    assert shown.contains(view.image_item.mapRectToParent(view.image_item.boundingRect()))
    assert view.image_item.lut is None
    QTest.keyClick(window, Qt.Key.Key_I)
    assert view.image_item.lut is not None and view.image_item.lut[0] == 255
    QTest.keyClick(window, Qt.Key.Key_R)
    assert view.rotation == 90
    # Rotated: the top-left pixel is now drawn at the top right.
    corner = view.image_item.mapToParent(QPointF(0, 0))
    assert corner.x() > 64
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert (view.rotation, view.user_invert, view.image_item.lut) == (0, False, None)


def test_measurement_in_mm_from_pixel_spacing(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "CT_small.dcm")
    view = window.view
    spacing = load_image(sample_folder / "CT_small.dcm").spacing
    QTest.keyClick(window, Qt.Key.Key_M)
    start, end = (20.5, 30.5), (100.5, 90.5)
    drag(view.graphics.viewport(), widget_point(view, *start), widget_point(view, *end))
    expected = math.hypot(80 * spacing.column, 60 * spacing.row)
    measured = view.measurement
    assert measured is not None and measured.unit == "mm"
    # Mouse positions are whole screen pixels: allow one image pixel of error.
    assert measured.value == pytest.approx(expected, abs=spacing.row * 1.5)
    assert "mm (Pixel Spacing)" in measured.label
    assert window.status.distance_label.text() == f"Distance: {measured.label}"


def test_measurement_uncalibrated_says_px(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    jpeg = next(r for r in window.session.records.values() if r.path.suffix == ".jpg")
    window.browser.select_record(jpeg)
    qtbot.waitUntil(lambda: window.view.record == jpeg, timeout=10000)
    QTest.keyClick(window, Qt.Key.Key_M)
    view = window.view
    drag(view.graphics.viewport(), widget_point(view, 100, 100), widget_point(view, 400, 500))
    assert view.measurement.unit == "px"
    assert view.measurement.value == pytest.approx(500, abs=4)
    assert "uncalibrated" in view.measurement.label


def test_status_readout_and_overlays(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "CT_small.dcm")
    view = window.view
    image = load_image(sample_folder / "CT_small.dcm")
    text = view.readout(10, 20)
    assert f"stored {image.stored[20, 10]}" in text
    assert f"value {float(image.values[20, 10]):g}" in text
    assert f"{10 * image.spacing.column:.1f}, {20 * image.spacing.row:.1f} mm" in text
    assert "Pixel Spacing" in text
    corners = view.corner_texts()
    assert "CT" in corners[2] and "Image" in corners[3]
    assert all(label.isVisible() for label in view.overlays.corners if label.text())
    QTest.keyClick(window, Qt.Key.Key_O)
    assert not any(label.isVisible() for label in view.overlays.corners)


def test_arrow_keys_move_through_images(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    order = window.browser.visible_records()
    window.browser.select_record(order[0])
    qtbot.waitUntil(lambda: window.view.record == order[0], timeout=10000)
    QTest.keyClick(window, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: window.view.record == order[1], timeout=10000)
    assert window.browser.current_record() == order[1]
    QTest.keyClick(window, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: window.view.record == order[-1], timeout=10000)
    QTest.keyClick(window, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: window.view.record == order[0], timeout=10000)
    QTest.keyClick(window, Qt.Key.Key_Right)  # next series
    qtbot.waitUntil(lambda: window.view.record is not order[0], timeout=10000)
    assert window.view.record.series_uid != order[0].series_uid


def test_tag_browser_search(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "CT_small.dcm")
    tags = window.tags
    assert len(tags.visible_keywords()) > 30
    tags.search.setText("spacing")
    assert "PixelSpacing" in tags.visible_keywords()
    assert "PatientName" not in tags.visible_keywords()
    tags.search.setText("0010,0010")
    assert tags.visible_keywords() == ["PatientName"]


def test_heatmap_overlay_leaves_pixels_alone(qtbot, make_window, sample_folder: Path) -> None:
    from gui_helpers import FakeEngine

    def tinted_pixels() -> int:
        """Rendered pixels that are not grey: the heatmap's colours."""
        shot = view.graphics.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        ptr = shot.constBits()
        rgb = np.frombuffer(ptr, np.uint8).reshape(shot.height(), shot.bytesPerLine())
        rgb = rgb[:, : shot.width() * 3].reshape(shot.height(), shot.width(), 3).astype(int)
        return int((np.ptp(rgb, axis=2) > 40).sum())

    window = make_window(engine=FakeEngine({}))
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "CT_small.dcm")
    view = window.view
    # Overlays off: the heatmap's request scores the image, and its flag, in colour, would
    # then be said over the image too.
    window.act_overlays.trigger()
    assert not window.session.display.overlays
    original = view.image_item.image.copy()
    baseline = tinted_pixels()
    window.act_heatmap.trigger()
    qtbot.waitUntil(lambda: view.has_heatmap, timeout=10000)
    assert view.heatmap.item.isVisible()
    assert view.heatmap.item.image.shape == original.shape
    assert tinted_pixels() > baseline + 5000  # drawn over the image, not just switched on
    np.testing.assert_array_equal(view.image_item.image, original)
    window.opacity.setValue(30)
    assert view.heatmap.item.opacity() == pytest.approx(0.3)
    window.act_heatmap.trigger()
    assert not view.heatmap.item.isVisible()
    assert tinted_pixels() == baseline


def test_page_keys_step_through_frames_keeping_the_window(
    qtbot, make_window, dicom_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "multiframe"
    folder.mkdir()
    path = folder / "enhanced_mr.dcm"
    shutil.copy(dicom_dir / "pydicom-data_1.0.0/emri_small.dcm", path)
    from gui_helpers import FakeEngine

    window = make_window(engine=FakeEngine({}))
    open_and_wait(qtbot, window, folder)
    view = window.view
    assert view.record.frames == 10 and view.image.frame == 0
    window.act_heatmap.trigger()
    qtbot.waitUntil(lambda: view.has_heatmap, timeout=10000)
    heatmap_requests = []
    window.analysis.request_heatmap = heatmap_requests.append
    custom = VoiWindow(center=300.0, width=200.0, explanation="reader's")
    view.set_voi(custom)
    window.view.zoom_by(2.0)
    zoomed = view.viewbox.viewRect()

    QTest.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: view.image.frame == 1, timeout=10000)
    np.testing.assert_array_equal(view.image_item.image, load_image(path, 1).values)
    assert view.voi == custom and tuple(view.image_item.levels) == (custom.lower, custom.upper)
    assert view.viewbox.viewRect() == zoomed
    assert "frame 2 / 10" in view.position_text
    # The model analyses the first frame: its heatmap must not be laid over another one.
    assert not view.has_heatmap and heatmap_requests == []
    for _ in range(12):  # past the end: stays on the last frame
        QTest.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: view.image.frame == 9, timeout=10000)
    QTest.keyClick(window, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: view.image.frame == 8, timeout=10000)
    assert view.record.path == path
