"""Reading comfort: gestures with one meaning, nothing stale, nothing cut off."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import drag, open_and_wait
from PySide6.QtCore import QModelIndex, QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractItemView, QApplication, QStyleOptionViewItem

pytestmark = pytest.mark.gui

MONOCHROME1 = Path("dicom/nema-wg04/REF/RG3_UNC")  # CR tibia, MONOCHROME1, 10-bit
MONOCHROME2 = Path("dicom/pydicom_3.0.2/MR_small.dcm")


def select(qtbot, window, name: str) -> None:
    record = next(r for r in window.session.records.values() if r.path.name == name)
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
    assert cut_off(window.browser.tree) == []
    assert cut_off(window.findings_panel.table) == []
    window.tags_dock.raise_()
    select(qtbot, window, "CR_hip_RG2_JPLY_fixed.dcm")
    tags = window.tags.tree
    qtbot.waitUntil(lambda: tags.topLevelItemCount() > 10)
    # Tag, keyword and VR whole; a value may be cut only where it is wider than the room
    # left for it, and its tooltip then has it whole.
    value_room = tags.viewport().width() - sum(tags.columnWidth(c) for c in range(3))
    assert value_room > 100
    for i in range(tags.topLevelItemCount()):
        item = tags.topLevelItem(i)
        for column in range(3):
            needed = tags.fontMetrics().horizontalAdvance(item.text(column))
            assert needed <= tags.columnWidth(column), item.text(column)
        assert item.toolTip(3) == item.text(3)
