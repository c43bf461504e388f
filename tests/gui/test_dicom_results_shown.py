"""A folder holding our SR: the viewer shows its findings and boxes without a model run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gui_helpers import FakeEngine, open_and_wait
from PySide6.QtWidgets import QFileDialog

from fracture_desktop.core.dicom_out.write import write_dicom_results
from tests.dicom_out.dicom_helpers import MODEL, foreign_sr, sample_entries

pytestmark = pytest.mark.gui


@pytest.fixture
def folder_with_sr(tmp_path: Path) -> Path:
    """The sample DICOMs, our results for them, and another vendor's SR."""
    folder = tmp_path / "pacs_export"
    folder.mkdir()
    entries = [e for e in sample_entries() if e.record.sop_instance_uid]
    for entry in entries:
        shutil.copy(entry.path, folder / entry.path.name)
    write_dicom_results(entries, MODEL, folder / "results")
    foreign_sr(entries[0].path, folder)
    return folder


def test_our_sr_is_shown_with_its_model_and_boxes_and_a_foreign_one_listed(
    qtbot, make_window, folder_with_sr: Path
) -> None:
    engine = FakeEngine({})
    window = make_window(engine)
    open_and_wait(qtbot, window, folder_with_sr)
    panel = window.findings_panel
    qtbot.waitUntil(lambda: len(panel._rows) == 3, timeout=60000)
    label = f"SR: {MODEL.id} {MODEL.version} ({MODEL.sha256[:12]})"
    for path in panel._rows:
        assert label in panel._about[path]
    assert engine.calls == 0  # nothing was scored: the SR said it all
    assert window.session.findings == {}  # shown only; reports still score with the model
    # The first sample (a fracture, with its box) is on show: the SR's box is drawn.
    view = window.view
    qtbot.waitUntil(lambda: len(view.box_overlay.boxes) == 1, timeout=60000)
    assert view.box_overlay.boxes[0].as_list()[:4] == [10.0, 20.0, 110.0, 220.0]
    problems = [p.reason for p in window.session.problems]
    assert any("Other Vendor" in reason and "not read" in reason for reason in problems)


def test_export_writes_dicom_results_from_the_menu(
    qtbot, make_window, folder_with_sr: Path, tmp_path: Path, monkeypatch
) -> None:
    window = make_window()  # the untrained model: real engine, real worker
    open_and_wait(qtbot, window, folder_with_sr)
    out = tmp_path / "dicom_out"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_args: str(out)))
    window.report_flow.ask()
    dialog = window.report_flow.dialog
    dialog.dicom_button.click()
    with qtbot.waitSignal(window.report_writer.sig_finished, timeout=120000) as finished:
        dialog.accept()
    written, cancelled = finished.args
    assert not cancelled
    srs = sorted(out.glob("*/SR_*.dcm"))
    assert len(srs) == 3 and set(srs) <= set(written)  # one SR per sample study
    assert f"{len(written)} DICOM files" in window.statusBar().currentMessage()
