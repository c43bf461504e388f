"""File > Export report: CSV and PDF reports of the open folder, written in the model worker.

("Export" in code names the release of a model, ``training/export.py``; here it is only
the reader's word on the menu.) The triage job (:mod:`fracture_desktop.core.triage`) runs in
the analysis controller's worker, the one thread that owns the inference engine: findings
the viewer already has are reused, and the images still lacking one (or needing a heatmap
for the PDF) are scored there, after any analysis already queued.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.jobs import Cancelled, CancelToken
from fracture_desktop.core.triage import TriageRequest, triage
from fracture_desktop.gui.controllers.analysis import AnalysisController


class ReportWriter(QObject):
    """Runs the triage job (:func:`~fracture_desktop.core.triage.triage`) in the model worker.

    Parameters
    ----------
    analysis : AnalysisController
        Owns the worker and the engine the export uses.
    decisions : DecisionStore
        The reader's decisions, printed beside each finding.
    """

    sig_progress = Signal(str, int, int)  # what is being done, done, total
    sig_finished = Signal(object, bool)  # tuple of the paths written, cancelled
    sig_finding = Signal(object)  # Finding scored for the report, shown in the viewer too

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

    def write(self, request: TriageRequest) -> None:
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

    def _write(self, request: TriageRequest, token: CancelToken) -> tuple[Path, ...]:
        """Analyse what is missing and write the reports (runs in the model worker)."""
        post = self._analysis.worker.post

        def progress(what: str, done: int, total: int) -> None:
            post(lambda: self.sig_progress.emit(what, done, total))

        token.raise_if_cancelled()
        engine = self._analysis.engine_in_worker()
        # Results kept in the store (a folder analysed before a restart) are reused, and a
        # score made for the report is kept there like any other.
        result = triage(request, engine, self._decisions, progress, token, self._analysis.results)
        for entry in result.entries:
            finding = entry.finding  # shown in the viewer too
            if finding.probability is not None and finding.path not in request.known:
                post(lambda f=finding: self.sig_finding.emit(f))
        return result.written

    def _finish(self, written: tuple[Path, ...], cancelled: bool) -> None:
        if self.running:
            self.running = False
            self.sig_finished.emit(written, cancelled)
