"""File > Export report: the real menu action, the dialog, the model worker, the files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import IMAGE_COUNT
from gui_helpers import open_and_wait
from pypdf import PdfReader
from PySide6.QtWidgets import QFileDialog

from fracture_desktop.core.findings import Flag

pytestmark = pytest.mark.gui


def _menu_action(window, menu_title: str, text: str):
    """The action named ``text`` in the menu bar's ``menu_title`` menu."""
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == menu_title)
    return next(a for a in menu.actions() if a.text() == text)


def _export(qtbot, window, monkeypatch, pdf: Path | None, csv_path: Path | None, deidentify: bool):
    """Trigger File > Export report, choose the files in patched save dialogs, and export."""
    chosen = {"PDF report": pdf, "CSV table": csv_path}
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda _parent, caption, *_args: (str(chosen[caption]), "")),
    )
    _menu_action(window, "&File", "&Export report\u2026").trigger()
    dialog = window.report_flow.dialog
    assert dialog is not None and dialog.isVisible()
    for kind, path in (("pdf", pdf), ("csv", csv_path)):
        if path is not None:
            dialog.choose_buttons[kind].click()
    dialog.deidentify.setChecked(deidentify)
    with qtbot.waitSignal(window.report_writer.sig_finished, timeout=120000) as finished:
        dialog.accept()
    return finished.args


def test_export_reports_from_the_menu(qtbot, make_window, sample_folder: Path, monkeypatch):
    window = make_window()  # the untrained model: real engine, real worker
    open_and_wait(qtbot, window, sample_folder)
    # One image analysed in the viewer first: the export reuses its finding.
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=60000):
        window.reading.analyse_image()
    known = dict(window.session.findings)
    assert len(known) == 1
    out = sample_folder.parent / "out"
    out.mkdir()
    pdf, csv_path = out / "report.pdf", out / "report.csv"
    csv_path.write_text("old", encoding="utf-8")  # replaced: the save dialog confirmed it

    written, cancelled = _export(qtbot, window, monkeypatch, pdf, csv_path, deidentify=True)

    assert not cancelled and written == (pdf, csv_path)
    assert window.report_flow.progress is None
    assert "Report written" in window.statusBar().currentMessage()
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == IMAGE_COUNT + 1  # every image, and the broken file
    by_name = {Path(row["file_path"]).name: row for row in rows}
    assert {Path(p).name for p in window.session.records} | {"broken.dcm"} == set(by_name)
    assert by_name["broken.dcm"]["flag"] == Flag.NOT_ANALYSED
    assert all(row["patient_name"] == "" and row["patient_id"] == "" for row in rows)
    assert all(row["model_id"] == "fracture_net-untrained" for row in rows)
    analysed = [row for name, row in by_name.items() if name != "broken.dcm"]
    assert all(row["flag"] != Flag.NOT_ANALYSED and row["probability"] for row in analysed)
    for path, finding in known.items():
        assert float(by_name[path.name]["probability"]) == pytest.approx(
            finding.probability, abs=1e-4
        )
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "fracture_net-untrained" in text
    assert "CompressedSamples" not in text  # de-identified: no patient names
    assert window.settings.report_folder == out


def test_export_error_reaches_the_user(qtbot, make_window, sample_folder: Path, monkeypatch):
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    target = sample_folder.parent / "missing-folder" / "report.csv"

    written, cancelled = _export(qtbot, window, monkeypatch, None, target, deidentify=False)

    assert written == () and not cancelled
    assert not target.exists()
    qtbot.waitUntil(lambda: bool(window.status.notices.notices))  # queued after the finish
    notice = window.status.notices.notices[-1]
    assert "missing-folder" in notice.reason + notice.details
    assert window.report_flow.progress is None
