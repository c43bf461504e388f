"""File > Export report: CSV and PDF reports of the open folder, written in the model worker.

The export runs in the analysis controller's worker, the one thread that owns the inference
engine: findings the viewer already has are reused, and the images still lacking one (or
needing a heatmap for the PDF) are scored there, after any analysis already queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.findings import Finding
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.jobs import Cancelled, CancelToken, ProgressCallback
from fracture_desktop.core.report import collect_entries, engine_context, write_csv
from fracture_desktop.gui.controllers.analysis import AnalysisController


@dataclass(frozen=True)
class ExportRequest:
    """What to export and where.

    Attributes
    ----------
    records : tuple of ImageRecord
        The images, in report order.
    source : str
        What was analysed (the folder), printed in the report header.
    csv_path, pdf_path : Path or None
        Destinations; None leaves that report out. Existing files are replaced: the user
        confirmed that when choosing them.
    deidentify : bool
        Leave out patient name, ID and birth date.
    problems : tuple of FileProblem
        Files the scan could not read, listed as not analysed.
    known : mapping of Path to Finding
        Findings the viewer already has, reused instead of scoring those images again.
    """

    records: tuple[ImageRecord, ...]
    source: str
    csv_path: Path | None = None
    pdf_path: Path | None = None
    deidentify: bool = False
    problems: tuple[FileProblem, ...] = ()
    known: Mapping[Path, Finding] = field(default_factory=dict)


class ReportExporter(QObject):
    """Writes the reports of an :class:`ExportRequest` in the model worker.

    Parameters
    ----------
    analysis : AnalysisController
        Owns the worker and the engine the export uses.
    decisions : DecisionStore
        The reader's decisions, printed beside each finding.
    """

    sig_progress = Signal(str, int, int)  # what is being done, done, total
    sig_finished = Signal(object, bool)  # tuple of the paths written, cancelled

    def __init__(
        self,
        analysis: AnalysisController,
        decisions: DecisionStore,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._analysis = analysis
        self._decisions = decisions
        self._cancel = CancelToken()
        self.running = False

    def cancel(self) -> None:
        self._cancel.cancel()

    def export(self, request: ExportRequest) -> None:
        """Start writing ``request``'s reports; the result arrives as ``sig_finished``.

        A failure reaches the worker's error handler (a short message with details) and
        ends the export with nothing listed as written.
        """
        self._cancel = token = CancelToken()
        self.running = True
        post = self._analysis.worker.post

        def job() -> tuple[tuple[Path, ...], bool]:
            try:
                return self._write(request, token), False
            except Cancelled:
                return (), True
            except Exception:
                post(lambda: self._finish((), False))
                raise

        self._analysis.worker.submit(job, lambda result: self._finish(*result))

    def _write(self, request: ExportRequest, token: CancelToken) -> tuple[Path, ...]:
        """Analyse what is missing and write the reports (runs in the model worker)."""
        post = self._analysis.worker.post

        def progress(what: str) -> ProgressCallback:
            def report(done: int, total: int) -> None:
                post(lambda: self.sig_progress.emit(what, done, total))

            return report

        from fracture_desktop.core.report.pdf_report import write_pdf  # imports reportlab

        token.raise_if_cancelled()
        engine = self._analysis.engine_in_worker()
        entries = collect_entries(
            request.records,
            engine,
            request.problems,
            self._decisions,
            key_images=request.pdf_path is not None,
            progress=progress("Analysing images"),
            cancel=token,
            known=request.known,
        )
        context = engine_context(engine, entries, request.source)
        written = []
        # The PDF first: it is the slow, cancellable one, so a cancel leaves no new file.
        if request.pdf_path is not None:
            written.append(
                write_pdf(
                    entries,
                    request.pdf_path,
                    context,
                    request.deidentify,
                    overwrite=True,
                    progress=progress("Writing the PDF"),
                    cancel=token,
                )
            )
        if request.csv_path is not None:
            token.raise_if_cancelled()
            written.append(
                write_csv(entries, request.csv_path, context, request.deidentify, overwrite=True)
            )
        return tuple(written)

    def _finish(self, written: tuple[Path, ...], cancelled: bool) -> None:
        if self.running:
            self.running = False
            self.sig_finished.emit(written, cancelled)
