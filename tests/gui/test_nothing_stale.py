"""Texts that describe the reading stay true when what they describe changes: the order of
the findings, the image's position, the distance, the counts after a model switch."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import IMAGE_COUNT
from gui_helpers import FakeEngine, analyse_folder, drag, measure, open_and_wait, select
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

import fracture_desktop.gui.controllers.scan as scan_controller
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.paths import models_root

pytestmark = pytest.mark.gui

SCORES = {"MR_small.dcm": 0.9, "CT_small.dcm": 0.5, "cr_cervical": 0.75}


def _position(window) -> str:
    return window.view.corner_texts()[3].splitlines()[0]


def test_reversing_the_findings_sort_says_so_and_later_findings_keep_it(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, sample_folder)
    panel = window.findings_panel
    select(qtbot, window, "MR_small.dcm")
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=30000):
        window.reading.analyse_image()
    qtbot.waitUntil(lambda: panel.summary.text() == "1 analysed, most suspicious first")
    header = panel.table.horizontalHeader()
    x = header.sectionViewportPosition(0) + header.sectionSize(0) // 2
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert panel.summary.text() == "1 analysed, least suspicious first"
    analyse_folder(qtbot, window)  # more findings arrive: the reversed order stays
    qtbot.waitUntil(lambda: len(panel.ordered_records()) == IMAGE_COUNT)
    names = [r.path.name for r in panel.ordered_records()]
    assert names[-1] == "MR_small.dcm" and names[-2] == "cr_cervical"
    assert panel.summary.text() == f"{IMAGE_COUNT} analysed, least suspicious first"


def test_the_position_follows_the_filter(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    window.browser.filter_box.setCurrentIndex(1)  # fracture only: MR and the CR
    shown = window.browser.visible_records()
    assert len(shown) == 2
    select(qtbot, window, shown[1].path.name)
    qtbot.waitUntil(lambda: _position(window) == "Image 2 / 2")
    window.browser.filter_box.setCurrentIndex(0)  # all images again
    order = window.browser.visible_records()
    expected = f"Image {order.index(window.view.record) + 1} / {IMAGE_COUNT}"
    qtbot.waitUntil(lambda: _position(window) == expected)


def test_the_position_counts_images_found_after_the_first_was_shown(
    qtbot, make_window, sample_folder: Path, monkeypatch
) -> None:
    gate = threading.Event()

    def held_scan(folder, on_record, *args, **kwargs):
        seen = []

        def first_two_then_wait(record) -> None:
            seen.append(record)
            if len(seen) > 2:
                gate.wait(timeout=20)
            on_record(record)

        return scan_folder(folder, first_two_then_wait, *args, **kwargs)

    monkeypatch.setattr(scan_controller, "scan_folder", held_scan)
    monkeypatch.setattr(scan_controller, "BATCH_SECONDS", 0.0)  # each record at once
    window = make_window()
    with qtbot.waitSignal(window.scan.sig_finished, timeout=30000):
        window.open_folder(sample_folder)
        qtbot.waitUntil(lambda: window.view.image is not None, timeout=20000)
        assert _position(window) == "Image 1 / 2"
        gate.set()
    qtbot.waitUntil(lambda: _position(window) == f"Image 1 / {IMAGE_COUNT}")


def test_deleting_measurements_updates_the_distance_in_the_status_bar(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "cr_cervical")
    viewport, centre = measure(qtbot, window, QPoint(80, 0))
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    drag(viewport, centre, centre + QPoint(0, 40))
    first, second = window.view.measurements
    label = window.status.distance_label
    assert label.text() == f"Distance: {second.label}"
    QTest.keyClick(window, Qt.Key.Key_Backspace)
    assert label.text() == f"Distance: {first.label}"  # the one left
    QTest.keyClick(window, Qt.Key.Key_Backspace)
    assert window.view.measurements == [] and label.text() == ""
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    drag(viewport, centre, centre + QPoint(80, 0))
    assert label.text().startswith("Distance:")
    QTest.keyClick(window, Qt.Key.Key_Escape)  # clears every measurement
    assert window.view.measurements == [] and label.text() == ""


def test_after_a_model_switch_the_counts_are_the_new_models(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    summary = window.browser.summary
    assert f"{IMAGE_COUNT} analysed \u00b7 2 flagged fracture" in summary.text()
    window.model_picker.choose(models_root() / "fracture_net-v1")
    qtbot.waitUntil(lambda: window.analysis.card is not None, timeout=10000)
    assert "flagged" not in summary.text() and "analysed \u00b7" not in summary.text()
    assert f"Not analysed by this model ({IMAGE_COUNT} by another)" in summary.text()
    caption = window.findings_panel.summary.text()
    assert caption.startswith("0 analysed") and f"{IMAGE_COUNT} by another model" in caption
    select(qtbot, window, "MR_small.dcm")
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=30000):
        window.reading.analyse_image()
    assert "1 analysed \u00b7 1 flagged fracture" in summary.text()


def test_measurements_stay_with_their_image(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    view, label = window.view, window.status.distance_label
    select(qtbot, window, "cr_cervical")
    viewport = view.graphics.viewport()
    centre = viewport.rect().center()
    window.act_measure.trigger()
    for offset in (QPoint(80, 0), QPoint(0, 60)):
        qtbot.wait(QApplication.doubleClickInterval() + 50)
        drag(viewport, centre, centre + offset)
    drawn = list(view.measurements)
    assert len(drawn) == 2 and all(d.unit == "mm" for d in drawn)
    lines = [r.line.line() for r in view.rulers._rulers]
    window.reading.step_image(1)  # another image: a clean one
    qtbot.waitUntil(lambda: view.record.path.name != "cr_cervical", timeout=10000)
    assert view.measurements == [] and label.text() == ""
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    drag(viewport, centre, centre + QPoint(30, 30))
    assert len(view.measurements) == 1
    select(qtbot, window, "cr_cervical")  # back: its two distances, where they were drawn
    assert view.measurements == drawn
    assert [r.line.line() for r in view.rulers._rulers] == lines
    assert [r.label.toPlainText() for r in view.rulers._rulers] == [d.label for d in drawn]
    assert label.text() == f"Distance: {drawn[-1].label}"
    QTest.keyClick(window, Qt.Key.Key_Backspace)  # a deletion is kept too
    window.reading.step_image(1)
    qtbot.waitUntil(lambda: view.record.path.name != "cr_cervical", timeout=10000)
    assert len(view.measurements) == 1  # the other image's own
    select(qtbot, window, "cr_cervical")
    assert view.measurements == drawn[:1]
