"""Nothing cut off or offered for nothing: status bar fragments, the Problems file names,
tag keywords, the site profile's error, window presets and commands without a folder."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from gui_helpers import FakeEngine, measure, open_and_wait, select
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from test_domain_and_profiles import validation_report

from fracture_desktop.core.paths import resources_root
from fracture_desktop.gui.widgets.eliding_label import ELLIPSIS

pytestmark = pytest.mark.gui

LAPTOP = (1366, 740)  # a 1366 x 768 screen less a task bar


def _whole_or_cut_honestly(label) -> bool:
    """A fragment shows its whole text, or its start cut with an ellipsis and a tooltip
    (never clipped mid-letter: the label is as wide as what it draws)."""
    shown, text = label.shown_text(), label.text()
    fits = label.width() >= label.fontMetrics().horizontalAdvance(shown)
    cut = shown.endswith(ELLIPSIS) and text.startswith(shown[:-1]) and bool(label.toolTip())
    return fits and (shown == text or cut)


def test_the_status_bar_never_widens_a_laptop_window(qtbot, make_window) -> None:
    gate = threading.Event()
    window = make_window(engine=FakeEngine({}, gate))
    window.resize(*LAPTOP)
    open_and_wait(qtbot, window, resources_root() / "samples")
    select(qtbot, window, "CR_hip_RG2_JPLY_fixed.dcm")
    viewport, centre = measure(qtbot, window, QPoint(120, 60))
    status = window.status
    QTest.mouseMove(viewport, centre + QPoint(5, 5))
    status.clearMessage()  # a passing message hides the fragments meanwhile
    qtbot.waitUntil(lambda: "mm (Pixel Spacing)" in status.cursor_label.text())
    qtbot.wait(50)
    fixed = (status.window_label, status.device_label, status.intended_label)
    eliding = (status.cursor_label, status.distance_label, status.model_label)
    assert window.width() == LAPTOP[0]
    for label in fixed:
        assert label.isVisible() and label.text()
        assert label.width() >= label.sizeHint().width(), label.text()
    for label in eliding:
        assert label.isVisible() and _whole_or_cut_honestly(label), label.text()
    # The pixel and its value are always read whole.
    pixel_and_value = " \u00b7 ".join(status.cursor_label.text().split(" \u00b7 ")[:2])
    assert status.cursor_label.shown_text().startswith(pixel_and_value)
    assert status.distance_label.shown_text().startswith("Distance: ")

    window.reading.analyse_folder()  # held after its first image: progress stays shown
    qtbot.waitUntil(lambda: status.progress.isVisible(), timeout=10000)
    reason = "IMG0000002.jpg: pixel data ends early (the JPEG stream stops at byte 48213)"
    window.notify(reason, "details")
    QTest.mouseMove(viewport, centre + QPoint(9, 9))
    status.clearMessage()
    qtbot.wait(50)
    try:
        assert window.width() == LAPTOP[0]  # nothing pushed the window wider
        assert window.minimumSizeHint().width() <= LAPTOP[0]
        for label in fixed:
            assert label.width() >= label.sizeHint().width(), label.text()
            assert label.geometry().right() <= status.width(), label.text()
        for label in (*eliding, status.notices.label, status.remaining_label):
            assert _whole_or_cut_honestly(label) or label.shown_text() == "", label.text()
        assert status.notices.label.text() == "\u26a0 " + reason
        assert status.notices.label.toolTip() == reason
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not status.progress.isVisible(), timeout=20000)


def test_problem_file_names_use_a_wide_panel(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "with_notes"
    folder.mkdir()
    name = "scanned_request_form_of_the_orthopaedic_clinic.txt"
    (folder / name).write_text("not an image\n")
    (folder / "IMG0000002.jpg").write_bytes(
        (resources_root() / "samples/fracatlas/IMG0000002.jpg").read_bytes()
    )
    window = make_window()
    window.resize(1600, 900)
    open_and_wait(qtbot, window, folder)
    window.resizeDocks([window.browser_dock], [700], Qt.Orientation.Horizontal)
    problems = window.problems
    qtbot.waitUntil(lambda: problems.viewport().width() > 600)
    qtbot.wait(20)
    needed = problems.fontMetrics().horizontalAdvance(name)
    assert problems.columnWidth(0) > needed
    assert problems.columnWidth(0) <= problems.viewport().width() // 2  # room for the reason


def test_tag_keywords_are_whole_in_a_wide_panel(qtbot, make_window) -> None:
    window = make_window()
    window.resize(1600, 900)
    open_and_wait(qtbot, window, resources_root() / "samples")
    window.tags_dock.raise_()
    window.resizeDocks([window.tags_dock], [680], Qt.Orientation.Horizontal)
    select(qtbot, window, "CR_hand_Kakadu_J2K.dcm")
    tags = window.tags.tree
    qtbot.waitUntil(lambda: tags.topLevelItemCount() > 10)
    qtbot.waitUntil(lambda: tags.viewport().width() > 620)
    qtbot.wait(20)
    metrics = tags.fontMetrics()
    widest = max(
        (tags.topLevelItem(i).text(1) for i in range(tags.topLevelItemCount())),
        key=metrics.horizontalAdvance,
    )
    assert widest == "ImageAndFluoroscopyAreaDoseProduct"
    assert metrics.horizontalAdvance(widest) < tags.columnWidth(1)
    value_room = tags.viewport().width() - sum(tags.columnWidth(c) for c in range(3))
    assert value_room >= tags.viewport().width() // 3 - 1


def test_a_refused_site_profile_says_why_in_full(
    qtbot, make_window, sample_folder: Path, tmp_path: Path
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    window.act_site_profile.trigger()
    dialog = window.site.dialog
    other = tmp_path / "other.json"
    other.write_text(json.dumps(validation_report("0" * 64, "someone-else")))
    assert not dialog.adopt(other)
    qtbot.waitExposed(dialog)
    dialog.adjustSize()
    qtbot.wait(20)
    message = dialog.message
    assert message.text() == "This validation was made with another model; refusing to adopt it."
    assert message.heightForWidth(message.width()) <= message.height()  # every line shown
    # The details (two sha256s) wrap inside the dialog, not past the screen's edge.
    details = dialog.details
    assert details.isVisible() and "0" * 64 in details.toPlainText()
    assert details.horizontalScrollBar().maximum() == 0
    assert dialog.width() < 900
    dialog.close()


def test_presets_and_commands_are_offered_only_when_they_can_act(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window(engine=FakeEngine({}))
    needs_a_folder = (
        window.act_fit, window.act_invert, window.act_rotate, window.act_measure,
        window.act_next, window.act_last, window.act_reader_fracture, window.act_analyse_image,
        window.act_analyse_folder, window.act_export,
    )  # fmt: skip
    assert [act.text() for act in needs_a_folder if act.isEnabled()] == []
    assert all("open a folder first" in act.toolTip() for act in needs_a_folder)
    assert not window.presets_menu.isEnabled()
    assert not any(act.isVisible() for act in window.act_presets)
    open_and_wait(qtbot, window, sample_folder)
    assert all(act.isEnabled() for act in needs_a_folder)
    assert window.act_invert.toolTip() == "Invert (I)"
    select(qtbot, window, "MR_small.dcm")
    visible = [act.text() for act in window.act_presets if act.isVisible()]
    assert len(visible) == 6 and "Window preset 7" not in visible
    assert window.presets_menu.isEnabled()
