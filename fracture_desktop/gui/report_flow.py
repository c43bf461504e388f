"""File > Export report as the reader sees it: checks, the dialog, the progress dialog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QStatusBar, QWidget

from fracture_desktop.core.session import ReadingSession
from fracture_desktop.core.triage import TriageRequest
from fracture_desktop.gui.controllers.analysis import AnalysisController
from fracture_desktop.gui.controllers.reports import ReportWriter
from fracture_desktop.gui.settings import ViewerSettings
from fracture_desktop.gui.widgets.report_dialog import ReportDialog


class ReportFlow(QObject):
    """Asks where the reports of the open folder go, then has the writer write them.

    Attributes
    ----------
    dialog : ReportDialog or None
        The last export dialog shown.
    progress : QProgressDialog or None
        The progress dialog while an export runs.
    """

    sig_written = Signal(object)  # Path of the report to open: the PDF, else the CSV

    def __init__(
        self,
        session: ReadingSession,
        settings: ViewerSettings,
        writer: ReportWriter,
        analysis: AnalysisController,
        status: QStatusBar,
        notify: Callable[..., None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._session, self._settings = session, settings
        self._writer, self._analysis = writer, analysis
        self._status, self._notify, self._parent = status, notify, parent
        self.dialog: ReportDialog | None = None
        #: The report last written (the PDF when there was one), for File > Open last report.
        self.last_report: Path | None = None
        self.progress: QProgressDialog | None = None
        self._spent: QProgressDialog | None = None  # the last export's, hidden
        #: The box that confirmed the last report written.
        self.confirmation: QMessageBox | None = None
        writer.sig_progress.connect(self._on_progress)
        writer.sig_finished.connect(self._on_finished)

    def ask(self) -> None:
        """Check that an export makes sense now, then open the export dialog."""
        session = self._session
        if self._writer.running:
            self._notify("A report is already being exported")
            return
        if session.folder is None or not session.records:
            self._notify("Open a folder with images before exporting a report")
            return
        if not session.scan_done:
            self._notify("The folder is still being scanned; export when the scan is done")
            return
        if not self._analysis.available:
            self._notify(f"Export unavailable: {self._analysis.unavailable_reason}")
            return
        missing = session.missing_findings()
        summary = f"{len(session.records)} images in {session.folder}" + (
            f"; {missing} not analysed yet will be analysed first." if missing else "."
        )
        if self.dialog is not None:
            self.dialog.deleteLater()  # keep one: each export builds a fresh dialog
        dialog = ReportDialog(
            self._settings.report_folder, session.folder.name, summary, self._parent
        )
        dialog.accepted.connect(lambda: self._start(dialog))
        self.dialog = dialog
        dialog.open()

    def _start(self, dialog: ReportDialog) -> None:
        session = self._session
        if session.folder is None:  # the folder was closed while the dialog was open
            return
        if dialog.folder is not None:
            self._settings.report_folder = dialog.folder
        request = TriageRequest(
            records=tuple(session.records.values()),
            source=str(session.folder),
            csv_path=dialog.paths["csv"],
            pdf_path=dialog.paths["pdf"],
            problems=tuple(session.problems),
            deidentify=dialog.deidentify.isChecked(),
            overwrite=True,  # the reader confirmed replacing in the dialog
            known=dict(session.findings),
            known_heatmaps=self._kept_heatmaps(),
            dicom_dir=dialog.dicom_dir,
            reader=self._settings.reader_name,
        )
        if self._spent is not None:
            self._spent.deleteLater()
            self._spent = None
        progress = QProgressDialog("Preparing the report\u2026", "Cancel", 0, 0, self._parent)
        progress.setWindowTitle("Export report")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        progress.canceled.connect(self._writer.cancel)
        progress.show()
        self.progress = progress
        self._writer.write(request)

    def _kept_heatmaps(self) -> dict[Path, np.ndarray]:
        """Heatmaps kept with the flagged findings on show, by path (see ResultsStore)."""
        session, stored = self._session, self._analysis.stored
        heatmaps = {}
        for path, finding in session.findings.items():
            result = stored.get(finding.identity)
            if finding.flag.is_flagged and result is not None and result.heat is not None:
                heatmaps[path] = result.heat
        return heatmaps

    def _on_progress(self, what: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.setLabelText(f"{what}: {done} of {total}")
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _on_finished(self, written: tuple[Path, ...], cancelled: bool) -> None:
        if self.progress is not None:
            self.progress.hide()  # hide, not close: closing it would emit canceled
            # Deleted when the next export starts, not now: a modal progress dialog runs
            # the event loop inside setValue, and this may be called from there.
            self._spent = self.progress
            self.progress = None
        if cancelled:
            self._status.showMessage("Export cancelled; no report was written", 8000)
        elif written:
            reports = [p for p in written if p.suffix != ".dcm"]
            dicom = len(written) - len(reports)
            names = ", ".join(path.name for path in reports)
            if dicom:
                names += f"{', ' if names else ''}{dicom} DICOM files"
            message = f"Report written: {names} (File > Open last report)"
            self._status.showMessage(message, 10000)
            # Confirmed in a box too, with where the files are: a status line is easy to miss.
            if self.confirmation is not None:
                self.confirmation.deleteLater()
            box = QMessageBox(
                QMessageBox.Icon.Information, "Report written", message, parent=self._parent
            )
            box.setInformativeText("\n".join(str(path) for path in reports or written))
            box.setModal(False)
            box.open()
            self.confirmation = box
            # The PDF, else the CSV, else (DICOM only) the first SR.
            self.last_report = next(
                (p for p in reports if p.suffix == ".pdf"), (reports or written)[0]
            )
            self.sig_written.emit(self.last_report)

    def open_last(self) -> None:
        """Open the report last written in the system's viewer for its type."""
        if self.last_report is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_report)))
