"""Reading comfort: gestures with one meaning, nothing stale, nothing cut off."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import drag, open_and_wait, select
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QGraphicsDropShadowEffect,
    QStyleOptionViewItem,
)

from fracture_desktop.gui.widgets.tag_browser import KEYWORD_SHARE

pytestmark = pytest.mark.gui

MONOCHROME1 = Path("dicom/nema-wg04/REF/RG3_UNC")  # CR tibia, MONOCHROME1, 10-bit
MONOCHROME2 = Path("dicom/pydicom_3.0.2/MR_small.dcm")


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


def cut_off(view: QAbstractItemView) -> list[str]:
    """Texts of ``view``'s visible cells that are elided or reach past the viewport."""
    model, delegate = view.model(), view.itemDelegate()
    right = view.viewport().width()
    found = []

    def walk(parent: QModelIndex) -> None:
        for row in range(model.rowCount(parent)):
            for column in range(model.columnCount(parent)):
                index = model.index(row, column, parent)
                text = index.data() or ""
                rect = view.visualRect(index)
                if not text or not rect.isValid():
                    continue
                option = QStyleOptionViewItem()
                option.initFrom(view)
                option.font = view.font()
                needed = delegate.sizeHint(option, index).width()
                if needed > rect.width() or rect.right() > right:
                    found.append(text)
            walk(model.index(row, 0, parent))

    walk(QModelIndex())
    return found


@pytest.mark.parametrize("size", [None, (1280, 800)])
def test_nothing_is_cut_off_at_common_window_sizes(qtbot, make_window, size, tmp_path) -> None:
    from gui_helpers import FakeEngine

    from fracture_desktop.core.decisions import Decision
    from fracture_desktop.core.paths import resources_root

    engine = FakeEngine({"IMG0000002.jpg": 0.9, "CR_hip_RG2_JPLY_fixed.dcm": 0.55})
    window = make_window(engine=engine)
    window.resize(*(size or (1400, 900)))  # the window's own default size first
    open_and_wait(qtbot, window, resources_root() / "samples")
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=60000):
        window.reading.analyse_folder()
    for record in list(window.session.records.values())[:2]:
        window.reading.decide(Decision.CONFIRMED, record)
    qtbot.wait(50)
    assert window.width() == (size or (1400, 900))[0]  # nothing forced the window wider
    assert cut_off(window.browser.tree) == []
    assert cut_off(window.findings_panel.table) == []
    window.tags_dock.raise_()
    select(qtbot, window, "CR_hip_RG2_JPLY_fixed.dcm")
    tags = window.tags.tree
    qtbot.waitUntil(lambda: tags.topLevelItemCount() > 10)
    # Tag and VR whole; a keyword whole unless wider than its share of the panel, a value
    # unless wider than the room left: those two have tooltips with the whole text.
    value_room = tags.viewport().width() - sum(tags.columnWidth(c) for c in range(3))
    assert value_room > tags.viewport().width() // 4  # a quarter of the panel at least
    keyword_room = tags.viewport().width() * KEYWORD_SHARE
    metrics = tags.fontMetrics()
    for i in range(tags.topLevelItemCount()):
        item = tags.topLevelItem(i)
        for column in (0, 2):
            assert metrics.horizontalAdvance(item.text(column)) <= tags.columnWidth(column)
        keyword = metrics.horizontalAdvance(item.text(1)) + 12
        assert keyword <= tags.columnWidth(1) or keyword > keyword_room
        assert item.toolTip(1) == item.text(1) and item.toolTip(3) == item.text(3)


def test_long_names_are_cut_in_the_middle_keeping_their_ends(
    qtbot, make_window, tmp_path: Path
) -> None:
    from fracture_desktop.core.paths import resources_root

    folder = tmp_path / "long"
    folder.mkdir()
    prefix = "exported_from_the_pacs_for_teaching_2026_hand_series_"
    names = [f"{prefix}IMG{n:07d}.jpg" for n in (2, 89)]
    for name, sample in zip(names, ("IMG0000002.jpg", "IMG0000089.jpg"), strict=True):
        shutil.copy(resources_root() / "samples" / "fracatlas" / sample, folder / name)
    window = make_window()
    window.resize(1280, 800)
    open_and_wait(qtbot, window, folder)
    tree = window.browser.tree
    shown = []
    for record in window.browser.visible_records():
        index = window.browser.index_of(record)
        option = QStyleOptionViewItem()
        tree.initViewItemOption(option)
        option.rect = tree.visualRect(index)
        name, _flag = tree.itemDelegateForIndex(index).shown_lines(option, index)
        assert "\u2026" in name and name != record.path.name
        assert name.startswith(prefix[:8]) and name.endswith(record.path.name[-10:])
        assert index.data(Qt.ItemDataRole.ToolTipRole).startswith(str(record.path))
        shown.append(name)
    assert len(set(shown)) == len(names)  # told apart by their ends


def test_readouts_of_the_previous_image_go_and_an_empty_folder_says_so(
    qtbot, make_window, sample_folder: Path, tmp_path: Path
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "cr_cervical")
    status, view = window.status, window.view
    viewport = view.graphics.viewport()
    centre = viewport.rect().center()
    QTest.mouseMove(viewport, centre)
    qtbot.waitUntil(lambda: "mm" in status.cursor_label.text())
    window.act_measure.trigger()
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    drag(viewport, centre, centre + QPoint(80, 0))
    assert status.distance_label.text().startswith("Distance:")
    shown = view.record
    window.reading.step_image(1)
    qtbot.waitUntil(lambda: view.record is not None and view.record != shown, timeout=10000)
    assert status.cursor_label.text() == "" and status.distance_label.text() == ""
    assert status.window_label.toolTip() == view.window_text

    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(window.scan.sig_finished, timeout=10000):
        window.open_folder(empty)
    assert view.image is None
    assert "No images in empty" in view.message_text
    assert [status.cursor_label.text(), status.window_label.text()] == ["", ""]
    assert status.distance_label.text() == ""


def test_a_truncated_image_warns_on_the_image_and_in_findings(
    qtbot, make_window, tmp_path: Path
) -> None:
    from gui_helpers import FakeEngine

    from fracture_desktop.core.paths import resources_root

    folder = tmp_path / "cut"
    folder.mkdir()
    samples = resources_root() / "samples" / "fracatlas"
    data = (samples / "IMG0000002.jpg").read_bytes()
    (folder / "IMG0000002.jpg").write_bytes(data[: len(data) * 2 // 3])  # ends early
    shutil.copy(samples / "IMG0000089.jpg", folder / "IMG0000089.jpg")
    window = make_window(engine=FakeEngine({}))
    open_and_wait(qtbot, window, folder)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=20000):
        window.reading.analyse_folder()
    cut = next(p for p in window.session.records if p.name == "IMG0000002.jpg")
    whole = next(p for p in window.session.records if p.name == "IMG0000089.jpg")
    panel = window.findings_panel
    assert "ends early" in panel.warnings_shown(cut)
    assert panel.warnings_shown(whole) == ""
    select(qtbot, window, "IMG0000002.jpg")
    assert "ends early" in window.view.warning_text
    select(qtbot, window, "IMG0000089.jpg")
    assert window.view.warning_text == ""
    # Corner texts carry a shadow so that they read on bright bone too; zoom is shown.
    view = window.view
    assert all(
        isinstance(c.graphicsEffect(), QGraphicsDropShadowEffect) for c in view.overlays.corners
    )
    assert "uncalibrated" in view.corner_texts()[2]
    view.actual_size()
    assert "Zoom 100%" in view.corner_texts()[3]


def test_the_status_bar_fits_a_laptop_window(qtbot, make_window) -> None:
    from fracture_desktop.core.paths import resources_root

    window = make_window()
    window.resize(1280, 800)
    open_and_wait(qtbot, window, resources_root() / "samples")
    select(qtbot, window, "CR_hip_RG2_JPLY_fixed.dcm")
    window.view_commands.apply_preset(3)  # a long window name: "soft tissue (estimated)"
    viewport = window.view.graphics.viewport()
    QTest.mouseMove(viewport, viewport.rect().center())
    status = window.status
    status.clearMessage()  # a passing message ("Scanning...") hides the readouts meanwhile
    qtbot.waitUntil(lambda: "mm (Pixel Spacing)" in status.cursor_label.text())
    qtbot.wait(50)
    for label in (
        status.cursor_label, status.window_label, status.device_label,
        status.model_label, status.intended_label,
    ):  # fmt: skip
        assert label.isVisible() and label.text()
        assert label.width() >= label.sizeHint().width(), label.text()
        assert label.geometry().right() <= status.width(), label.text()
    # Labels that do not fit would widen the window past the screen: it stays as asked.
    assert window.width() == 1280 and status.width() <= 1280
    assert "(estimated)" in status.window_label.toolTip()


def test_side_panels_grow_with_the_window(qtbot, make_window) -> None:
    window = make_window()
    window.resize(1280, 800)
    qtbot.wait(20)
    narrow = (window.browser_dock.width(), window.findings_dock.width())
    window.resize(1920, 1000)  # maximised on a larger screen
    qtbot.wait(20)
    wide = (window.browser_dock.width(), window.findings_dock.width())
    for before, after in zip(narrow, wide, strict=True):
        assert after == pytest.approx(before * 1920 / 1280, rel=0.05)
