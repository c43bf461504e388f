"""The CNN's flags in the viewer: analysis, sorting, cancel, decisions, no model, shutdown."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from conftest import IMAGE_COUNT
from gui_helpers import FakeEngine, open_and_wait
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import Flag
from fracture_desktop.gui.flags import suspicion_key
from fracture_desktop.gui.widgets.dialogs import model_card_html
from fracture_desktop.training.onnx_export import export_onnx

pytestmark = pytest.mark.gui

SCORES = {"MR_small.dcm": 0.9, "CT_small.dcm": 0.5, "cr_cervical": 0.75}


def test_analyse_folder_with_untrained_model(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    assert window.analysis.available
    assert "fracture_net-untrained" in window.status.model_label.text()
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=60000) as finished:
        QTest.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert finished.args == [False]
    assert len(window.session.findings) == IMAGE_COUNT
    assert all(f.flag is not Flag.NOT_ANALYSED for f in window.session.findings.values())
    # The untrained model has no ONNX graph: torch runs it, and the status bar says so.
    assert window.status.device_label.text() == "auto \u2192 cpu \u00b7 torch"
    tip = window.status.device_label.toolTip()
    assert tip.startswith("Device auto: the model runs on cpu, torch 2.")
    for record in window.session.records.values():
        finding = window.session.findings[record.path]
        assert window.browser.badge_text(record).startswith(finding.flag.value.capitalize())
    # Sort by suspicion: the browser's order follows flag rank, then probability.
    window.browser.sort_box.setCurrentIndex(1)
    shown = window.browser.visible_records()
    assert len(shown) == IMAGE_COUNT
    for series in {r.series_uid for r in shown}:
        keys = [
            suspicion_key(window.session.findings[r.path]) for r in shown if r.series_uid == series
        ]
        assert keys == sorted(keys)
    panel_keys = [
        suspicion_key(window.session.findings[r.path])
        for r in window.findings_panel.ordered_records()
    ]
    assert panel_keys == sorted(panel_keys)


def test_a_model_folder_with_its_graph_and_no_weights_analyses_as_in_the_desktop_build(
    qtbot, make_window, sample_folder: Path, model_dir: Path, tmp_path: Path
) -> None:
    # The frozen build ships the shipped model's ONNX graph, not its torch weights.
    graph_only = tmp_path / model_dir.name
    shutil.copytree(model_dir, graph_only)
    export_onnx(graph_only)
    (graph_only / "weights.pt").unlink()
    window = make_window(model=graph_only)
    open_and_wait(qtbot, window, sample_folder)
    assert window.analysis.available, window.analysis.unavailable_reason
    assert window.status.model_label.text() == "Model: fracture_net-untrained"
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=60000) as finished:
        window.act_analyse_folder.trigger()
    assert finished.args == [False]
    assert all(f.flag is not Flag.NOT_ANALYSED for f in window.session.findings.values())
    assert window.status.device_label.text() == "auto \u2192 cpu \u00b7 ONNX"


def test_sort_and_filter_by_suspicion(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, sample_folder)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=20000):
        window.reading.analyse_folder()
    names = [r.path.name for r in window.findings_panel.ordered_records()]
    assert names[:3] == ["MR_small.dcm", "cr_cervical", "CT_small.dcm"]
    window.browser.sort_box.setCurrentIndex(1)
    first = window.browser.visible_records()[0]
    assert first.path.name == "MR_small.dcm"  # the most suspicious patient comes first
    window.browser.filter_box.setCurrentIndex(1)  # fracture only
    shown = {r.path.name for r in window.browser.visible_records()}
    assert shown == {"MR_small.dcm", "cr_cervical"}
    window.browser.filter_box.setCurrentIndex(2)  # fracture or doubt
    shown = {r.path.name for r in window.browser.visible_records()}
    assert shown == {"MR_small.dcm", "cr_cervical", "CT_small.dcm"}
    window.browser.filter_box.setCurrentIndex(0)
    assert len(window.browser.visible_records()) == IMAGE_COUNT


def test_cancel_mid_way(qtbot, make_window, sample_folder: Path) -> None:
    gate = threading.Event()
    engine = FakeEngine(SCORES, gate)
    window = make_window(engine=engine)
    open_and_wait(qtbot, window, sample_folder)
    window.reading.analyse_folder()
    assert window.status.progress.isVisible() and window.status.cancel_button.isVisible()
    qtbot.waitUntil(lambda: len(window.session.findings) == 1, timeout=10000)
    assert "left" in window.status.remaining_label.text()
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=10000) as finished:
        window.status.cancel_button.click()
        gate.set()  # let the image in progress finish; the batch stops after it
    assert finished.args == [True]
    assert 1 <= len(window.session.findings) < IMAGE_COUNT
    assert not window.status.progress.isVisible()
    assert "cancelled" in window.statusBar().currentMessage()


def test_decisions_survive_reopen(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, sample_folder)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=20000):
        window.reading.analyse_folder()
    mr = next(r for r in window.session.records.values() if r.path.name == "MR_small.dcm")
    jpeg = next(r for r in window.session.records.values() if r.path.suffix == ".jpg")
    window.browser.select_record(mr)
    qtbot.waitUntil(lambda: window.view.record == mr, timeout=10000)
    QTest.keyClick(window, Qt.Key.Key_Y)
    # The model says "No fracture" (0.1); the reader sees one: a missed fracture, recorded.
    window.reading.decide(Decision.FRACTURE, jpeg)
    assert "reader: fracture" in window.browser.badge_text(mr)
    window.close()

    reopened = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, reopened, sample_folder)
    by_name = {r.path.name: r for r in reopened.session.records.values()}
    # Restored before any analysis: decisions are keyed by identity, not by the session.
    assert "reader: fracture" in reopened.browser.badge_text(by_name["MR_small.dcm"])
    shown = reopened.browser.badge_text(by_name[jpeg.path.name])
    assert shown == "No fracture 10%  reader: fracture"
    # The kept result is shown, with no decision beside it.
    assert reopened.browser.badge_text(by_name["CT_small.dcm"]) == "Doubt 50%"
    assert not any(sample_folder.rglob("*.json"))  # nothing written into the study folder


def test_without_model_viewer_works_and_says_why(
    qtbot, make_window, sample_folder: Path, tmp_path: Path
) -> None:
    window = make_window(model=tmp_path / "no-such-model")
    qtbot.waitUntil(lambda: window.status.model_label.text() == "Model: unavailable", timeout=10000)
    assert not window.act_analyse_folder.isEnabled()
    assert "no model card" in window.act_analyse_folder.toolTip()
    open_and_wait(qtbot, window, sample_folder)
    assert window.view.image is not None
    window.reading.analyse_folder()
    assert "Analysis unavailable: no model card" in window.status.notices.notices[-1].reason
    assert "No model" in model_card_html(window.analysis.card, window.analysis.unavailable_reason)


def test_model_card_and_intended_use_are_shown(qtbot, make_window) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: window.analysis.card is not None, timeout=10000)
    card = window.analysis.card
    text = model_card_html(card, "")
    assert card.short_sha in text and "0.600" in text and "0.400" in text
    assert card.intended_use in text and "not a diagnosis" in text
    assert window.status.intended_label.isVisible()
    assert "not a diagnosis" in window.status.intended_label.text()
    rows = dict(window.help_menu.shortcut_rows())
    assert rows["Ctrl+O"].startswith("Open Folder") and rows["I"] == "Invert"


def test_settings_persist(qtbot, make_window, sample_folder: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    QTest.keyClick(window, Qt.Key.Key_O)
    window.set_device("cpu")
    window.opacity.setValue(70)
    window.act_boxes.trigger()  # boxes off (on by default)
    window.session.update_display(heatmap_visible=True)  # off by default
    window.close()
    again = make_window()
    assert again.settings.recent[0] == sample_folder
    assert not again.act_overlays.isChecked()
    assert not again.act_boxes.isChecked() and again.act_heatmap.isChecked()
    assert again.device_actions["cpu"].isChecked() and again.analysis.device == "cpu"
    assert again.opacity.value() == 70


def test_error_in_a_worker_reaches_the_user(qtbot, make_window) -> None:
    window = make_window()

    def fail() -> None:
        raise RuntimeError("disk on fire")

    window.workers[0].submit(fail)
    qtbot.waitUntil(lambda: bool(window.status.notices.notices), timeout=5000)
    notice = window.status.notices.notices[-1]
    assert notice.reason == "RuntimeError: disk on fire"
    assert "Traceback" in notice.details
    assert window.status.notices.details_button.isVisible()


def test_closing_joins_every_worker(qtbot, make_window, sample_folder: Path) -> None:
    gate = threading.Event()
    window = make_window(engine=FakeEngine(SCORES, gate))
    open_and_wait(qtbot, window, sample_folder)
    window.reading.analyse_folder()
    qtbot.waitUntil(lambda: len(window.session.findings) == 1, timeout=10000)
    gate.set()
    window.close()
    assert [t.name for t in threading.enumerate() if t.name.startswith("fd-")] == []


@pytest.mark.parametrize("devices", [("auto", "cpu"), ("auto", "cpu", "cuda")])
def test_device_menu_offers_what_torch_reports(qtbot, make_window, monkeypatch, devices) -> None:
    offered = "fracture_desktop.core.inference.engines.available_devices"
    monkeypatch.setattr(offered, lambda: devices)
    window = make_window(engine=FakeEngine(SCORES))
    # The engine is loaded and warmed at start-up: the machine says what it offers then, just
    # before the engine reports the device it runs on (the label shows "auto → cpu").
    qtbot.waitUntil(lambda: "\u2192" in window.status.device_label.text(), timeout=20000)
    assert window.device_actions["cuda"].isEnabled() == ("cuda" in devices)
    assert window.device_actions["cpu"].isEnabled()
