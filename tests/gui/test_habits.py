"""Habits readers bring from RadiAnt and Weasis: wheel, named presets, turns and flips,
several measurements, shortcuts in tooltips, About, opening the report, picking the model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyqtgraph as pg
import pytest
from conftest import IMAGE_COUNT
from gui_helpers import FakeEngine, drag, open_and_wait, select
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDesktopServices, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_reports import _export

from fracture_desktop.core.paths import models_root
from fracture_desktop.gui.widgets.dialogs import about_html, model_card_html

pytestmark = pytest.mark.gui


def wheel(view, ctrl: bool = False, towards_reader: bool = True) -> None:
    viewport = view.graphics.viewport()
    at = viewport.rect().center()
    modifiers = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    event = QWheelEvent(
        QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(0, 0),
        QPoint(0, -120 if towards_reader else 120), Qt.MouseButton.NoButton, modifiers,
        Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(viewport, event)


def test_wheel_steps_images_and_ctrl_wheel_zooms_or_the_other_way(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    view = window.view
    order = window.browser.visible_records()
    assert view.record == order[0]
    wheel(view)
    qtbot.waitUntil(lambda: view.record == order[1], timeout=10000)
    wheel(view, towards_reader=False)
    qtbot.waitUntil(lambda: view.record == order[0], timeout=10000)
    zoom = view.zoom
    wheel(view, ctrl=True, towards_reader=False)
    assert view.zoom > zoom * 1.05 and view.record == order[0]
    window.act_wheel.trigger()  # View > the wheel zooms instead
    assert not window.settings.wheel_steps_images
    zoomed = view.zoom
    wheel(view, towards_reader=False)
    assert view.zoom > zoomed * 1.05 and view.record == order[0]
    wheel(view, ctrl=True)
    qtbot.waitUntil(lambda: view.record == order[1], timeout=10000)
    window.close()
    assert not make_window().act_wheel.isChecked()  # kept for next time


def test_presets_are_named_in_the_menu_and_views_turn_both_ways_and_flip(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "MR_small.dcm")
    names = [act.text() for act in window.act_presets]
    assert names[:6] == [
        "file window 1", "auto", "bone (estimated)", "soft tissue (estimated)",
        "lung (estimated)", "full range",
    ]  # fmt: skip
    # Keys without a preset are left out of the menu, not listed unnamed.
    assert [act.isVisible() for act in window.act_presets] == [True] * 6 + [False] * 3
    assert window.act_presets[2].toolTip() == "bone (estimated) (3)"
    view = window.view
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert view.rotation == 270
    QTest.keyClick(window, Qt.Key.Key_R)
    assert view.rotation == 0
    rows = view.image.shape[0]
    QTest.keyClick(window, Qt.Key.Key_V)  # top-bottom: the first row is drawn at the bottom
    top_left = view.image_item.mapToParent(QPointF(0, 0))
    assert top_left.x() == pytest.approx(0) and top_left.y() == pytest.approx(rows)
    QTest.keyClick(window, Qt.Key.Key_V)
    QTest.keyClick(window, Qt.Key.Key_R)  # turned, a left-right flip still mirrors the screen
    before = view.image_item.mapToParent(QPointF(0, 0))
    QTest.keyClick(window, Qt.Key.Key_L)
    after = view.image_item.mapToParent(QPointF(0, 0))
    assert after.y() == pytest.approx(before.y()) and after.x() != pytest.approx(before.x())
    assert window.act_invert.toolTip() == "Invert (I)"
    assert window.act_rotate_back.toolTip().endswith("(Ctrl+R)")


def test_several_measurements_and_deleting_them(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    select(qtbot, window, "CT_small.dcm")
    view = window.view
    viewport = view.graphics.viewport()
    centre = viewport.rect().center()
    QTest.keyClick(window, Qt.Key.Key_M)
    for dy in (0, 40, 80):
        drag(viewport, centre + QPoint(-60, dy - 40), centre + QPoint(60, dy - 40))
        qtbot.wait(QApplication.doubleClickInterval() + 50)
    assert len(view.measurements) == 3
    QTest.keyClick(window, Qt.Key.Key_Backspace)
    assert len(view.measurements) == 2
    labels = [i for i in view.graphics.scene().items() if isinstance(i, pg.TextItem)]
    assert len(labels) == 2  # the deleted one's label is gone from the view too
    assert window.act_measure.isChecked()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert view.measurements == [] and not view.viewbox.measuring
    assert not window.act_measure.isChecked()  # the toolbar's Measure button pops up too


def test_about_box_and_readable_model_card(qtbot, make_window) -> None:
    window = make_window()
    text = about_html()
    assert "PySide6-Essentials" in text and "LGPL" in text and "CC BY 4.0" in text
    window.act_about.trigger()
    card_text = model_card_html(window.analysis.card, "")
    assert "roc_auc" not in card_text and " / " not in card_text


def test_readable_metrics_of_a_shipped_card(qtbot) -> None:
    from fracture_desktop.core.inference.card import load_card

    text = model_card_html(load_card(models_root() / "fracture_net-v3"), "")
    assert "whole test set \u00b7 ROC AUC" in text and "95% CI" in text
    assert "roc_auc" not in text and "recall_sensitivity" not in text


def test_the_report_opens_after_export(qtbot, make_window, sample_folder: Path, monkeypatch):
    window = make_window(engine=FakeEngine({}))
    open_and_wait(qtbot, window, sample_folder)
    assert not window.act_open_report.isEnabled()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(opened.append))
    out = sample_folder.parent / "out"
    out.mkdir()
    _export(qtbot, window, monkeypatch, out / "r.pdf", out / "r.csv", deidentify=False)
    assert window.act_open_report.isEnabled()
    window.act_open_report.trigger()
    assert [url.toLocalFile() for url in opened] == [str(out / "r.pdf")]


def test_picking_another_model_marks_earlier_results_and_is_kept(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window(engine=FakeEngine({"MR_small.dcm": 0.9}))
    open_and_wait(qtbot, window, sample_folder)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=20000):
        window.reading.analyse_folder()
    first_label = window.analysis.card.label
    window.model_picker.fill()
    entries = [a for a in window.model_menu.actions() if a.isCheckable()]
    names = [a.text() for a in entries]
    assert any(n.startswith("fracture_net-v3") and "test ROC AUC" in n for n in names)
    target = next(a for a in entries if a.text().startswith("fracture_net-v1"))
    target.trigger()
    assert window.session.findings == {}  # no longer this model's answer
    mr = next(r for r in window.session.records.values() if r.path.name == "MR_small.dcm")
    assert window.browser.badge_text(mr) == "(Fracture 90%)"
    qtbot.waitUntil(lambda: window.analysis.card is not None, timeout=10000)
    assert window.analysis.card.id == "fracture_net-v1"
    assert first_label != window.analysis.card.label
    assert window.settings.model_dir == models_root() / "fracture_net-v1"
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=20000):
        window.reading.analyse_folder()
    assert len(window.session.findings) == IMAGE_COUNT
    assert window.browser.badge_text(mr) == "Fracture 90%"


def test_a_model_whose_weights_changed_is_refused(
    qtbot, make_window, sample_folder: Path, tmp_path: Path, monkeypatch
) -> None:
    window = make_window()  # the real engine: it checks the weights' sha256
    tampered = tmp_path / "tampered"
    shutil.copytree(models_root() / "fracture_net-v1", tampered)
    with (tampered / "weights.pt").open("ab") as f:
        f.write(b"\0")
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *_a, **_k: str(tampered))
    )
    window.act_add_model.trigger()
    assert window.settings.user_model_dirs == [tampered]
    qtbot.waitUntil(lambda: window.status.model_label.text() == "Model: unavailable", timeout=60000)
    assert "do not match" in window.analysis.unavailable_reason
