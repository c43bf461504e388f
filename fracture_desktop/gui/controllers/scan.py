"""Folder scans in a worker, streamed to the GUI in small batches."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from fracture_desktop.core.imaging.records import FileProblem, ImageRecord, ScanResult
from fracture_desktop.core.imaging.scan import reports_in, scan_folder
from fracture_desktop.core.jobs import CancelToken
from fracture_desktop.gui.bridge import Worker

#: Records are handed to the GUI at most this often: one tree update per batch, not per file.
BATCH_SECONDS = 0.1


class ScanController(QObject):
    """Scans one folder at a time; starting a new scan cancels the previous one.

    Every scan carries a generation number; results of a superseded scan are dropped on the
    GUI thread, so a slow old scan can never fill the browser of a newly opened folder.
    """

    sig_records_found = Signal(list)  # list[ImageRecord]
    sig_problem_found = Signal(object)  # FileProblem
    sig_progress = Signal(int, int)
    sig_finished = Signal(object)  # ScanResult
    #: ReportedFindings: what our SRs in the folder say, read after the scan (docs/REPORTS.md).
    sig_reports_read = Signal(object)

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._generation = 0
        self._cancel = CancelToken()

    @property
    def generation(self) -> int:
        return self._generation

    def cancel(self) -> None:
        self._cancel.cancel()

    def start(self, folder: Path) -> int:
        """Scan ``folder``; returns the generation number of this scan."""
        self._cancel.cancel()
        self._cancel = token = CancelToken()
        self._generation += 1
        generation = self._generation
        worker = self._worker

        def deliver(fn_name: str, *args: object) -> None:
            def run() -> None:
                if generation == self._generation:
                    getattr(self, fn_name).emit(*args)

            worker.post(run)

        def job() -> ScanResult:
            pending: list[ImageRecord] = []
            last = time.monotonic()

            def flush() -> None:
                nonlocal last
                if pending:
                    deliver("sig_records_found", list(pending))
                    pending.clear()
                last = time.monotonic()

            def on_record(record: ImageRecord) -> None:
                pending.append(record)
                if time.monotonic() - last > BATCH_SECONDS:
                    flush()

            def on_problem(problem: FileProblem) -> None:
                deliver("sig_problem_found", problem)

            def progress(done: int, total: int) -> None:
                if time.monotonic() - last > BATCH_SECONDS or done == total:
                    flush()
                    deliver("sig_progress", done, total)

            result = scan_folder(folder, on_record, on_problem, progress, token)
            flush()
            reports = reports_in(result)
            if reports:
                from fracture_desktop.core.dicom_out.read_back import reported_findings

                deliver("sig_reports_read", reported_findings(result.images, reports))
            return result

        def finished(result: ScanResult) -> None:
            if generation == self._generation:
                self.sig_finished.emit(result)

        worker.submit(job, finished)
        return generation
