"""Reading: binds the reading session to the views, and turns reader intent into session changes.

The session (:class:`~fracture_desktop.core.session.ReadingSession`) holds the state; this
controller subscribes the browser, the panels, the tag browser and the image view to its
events, and implements navigation, reader decisions, heatmaps and what to analyse. Slow work
goes to the loader's and the analysis controller's workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDockWidget

from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import Finding
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord, ScanResult
from fracture_desktop.core.session import ReadingSession, neighbours, series_step, step_in
from fracture_desktop.gui.controllers.analysis import AnalysisController
from fracture_desktop.gui.controllers.images import ImageLoader, Loaded
from fracture_desktop.gui.controllers.thumbnails import ThumbnailMaker
from fracture_desktop.gui.flags import FLAG_COLOURS, flag_text
from fracture_desktop.gui.status import StatusArea
from fracture_desktop.gui.widgets.browser import StudyBrowser
from fracture_desktop.gui.widgets.image_view import ImageView
from fracture_desktop.gui.widgets.panels import FindingsPanel, ProblemsPanel
from fracture_desktop.gui.widgets.tag_browser import TagBrowser

if TYPE_CHECKING:  # highdicom loads only when a folder holds an SR
    from fracture_desktop.core.dicom_out.read_back import ReportedFindings


#: Without a folder opening, the engine is loaded this long after the model is found usable;
#: loading it competes with decoding for the cores and the GIL.
PRELOAD_DELAY_MS = 1500


@dataclass(frozen=True)
class ReadingViews:
    """The widgets that show the session."""

    view: ImageView
    browser: StudyBrowser
    findings_panel: FindingsPanel
    problems: ProblemsPanel
    problems_dock: QDockWidget
    tags: TagBrowser
    status: StatusArea


class ReadingController:
    """Keeps the views in step with ``session`` and carries out the reader's commands.

    Parameters
    ----------
    session : ReadingSession
        The state.
    views : ReadingViews
        The widgets to keep in step.
    loader, thumbnails, analysis
        The workers' controllers for decoding, thumbnails and the model.
    notify : callable
        ``notify(reason, details="")`` shows a short message to the reader.
    """

    def __init__(
        self,
        session: ReadingSession,
        views: ReadingViews,
        loader: ImageLoader,
        thumbnails: ThumbnailMaker,
        analysis: AnalysisController,
        notify: Callable[..., None],
    ) -> None:
        self.session, self.views = session, views
        self._loader, self._thumbnails, self._analysis = loader, thumbnails, analysis
        self._notify = notify
        #: Findings our SRs in the open folder state, shown without a model (show_reported).
        self._reported: dict[Path, Finding] = {}
        self._failed: set[Path] = set()  # images listed in Problems after analysis failed
        events, v = session.events, views
        events.opened.connect(self._on_opened)
        events.records_added.connect(self._on_records)
        events.problem_added.connect(self._on_problem)
        events.scan_finished.connect(self._on_scan_finished)
        events.current.connect(self._on_current)
        events.frame.connect(lambda frame: loader.request(session.current, frame=frame))
        events.finding.connect(self._on_finding)
        events.decision.connect(self._on_decision)
        loader.sig_loaded.connect(self._on_loaded)
        loader.sig_failed.connect(self._on_load_failed)
        thumbnails.sig_thumbnail_ready.connect(v.browser.set_thumbnail)
        thumbnails.sig_identity_ready.connect(self._on_identity)
        analysis.sig_model_state.connect(self._on_model_state)
        analysis.sig_finding.connect(session.add_finding)
        analysis.sig_heatmap_ready.connect(self._on_heatmap)
        v.browser.sig_record_selected.connect(self.show_record)
        v.browser.sig_order_changed.connect(self._update_position)
        v.findings_panel.sig_record_selected.connect(v.browser.select_record)
        v.findings_panel.sig_decision.connect(lambda record, d: self.decide(d, record))

    # -- session -> views -------------------------------------------------------------------

    def _on_opened(self, folder: Path) -> None:
        self._reported.clear()
        self._failed.clear()
        v = self.views
        v.browser.clear()
        v.problems.clear()
        v.findings_panel.clear()
        v.view.clear_image()
        v.view.show_message(f"Scanning {folder.name or folder}\u2026")
        v.tags.set_rows(())
        v.status.clear_readouts()
        self._update_problems_title()

    def _on_scan_finished(self, result: ScanResult) -> None:
        if result.images:
            return
        problems = len(result.problems)
        self.views.view.show_message(
            f"No images in {result.root.name or result.root}."
            + (f"\n{problems} files could not be read: see Problems." if problems else "")
            + "\nOpen another folder with Ctrl+O."
        )

    def _on_records(self, records: tuple[ImageRecord, ...]) -> None:
        self.views.browser.add_records(list(records))
        self._thumbnails.add(list(records))

    def _on_problem(self, problem: FileProblem) -> None:
        self.views.problems.add_problem(problem)
        self._update_problems_title()

    def _update_problems_title(self) -> None:
        n = self.views.problems.topLevelItemCount()
        self.views.problems_dock.setWindowTitle(f"Problems ({n})" if n else "Problems")

    def _on_identity(self, record: ImageRecord, identity: str) -> None:
        self.session.set_identity(record.path, identity)
        self._show_stored(record.path)

    def _on_model_state(self, card: object, reason: str) -> None:
        if card is not None and not reason:
            for path in list(self.session.identities):
                self._show_stored(path)
            QTimer.singleShot(PRELOAD_DELAY_MS, self._analysis, self._preload_when_idle)

    def _preload_when_idle(self) -> None:
        """Load the engine ahead unless the first image of a folder is on its way: that image
        comes first, and loading it then is left to :meth:`_on_loaded`."""
        if self.session.folder is None or self.views.view.image is not None:
            self._analysis.preload()

    def _show_stored(self, path: Path) -> None:
        """Show the result kept from an earlier session, without running the model.

        The current model's result becomes the image's finding; another model's is only
        shown, marked, so that analysis and reports still score the image with this model.
        """
        session = self.session
        identity, record = session.identities.get(path), session.records.get(path)
        if identity is None or record is None or path in session.findings:
            return
        stored = self._analysis.stored.get(identity)
        if stored is not None:
            # Flagged with the thresholds in use now (a site profile may have changed).
            session.add_finding(stored.finding(path, self._analysis.thresholds))
            return
        other = self._analysis.stored_by_others.get(identity)
        if other is not None:
            finding = other.finding(path)
            self.views.browser.set_finding(finding, made_by=other.model_label)
            self.views.findings_panel.set_finding(record, finding, made_by=other.model_label)

    def show_reported(self, reported: ReportedFindings) -> None:
        """Show the findings our SRs in the folder state, marked with the model that made
        them, without running any model; list other systems' SRs as not read.

        Like another model's kept results, they are shown only: analysis and reports still
        score those images with the model in use.
        """
        for path, finding in reported.findings.items():
            record = self.session.records.get(path)
            if record is None or path in self.session.findings:
                continue
            made_by = f"SR: {reported.made_by[path].label}"
            self._reported[path] = finding
            self.views.browser.set_finding(finding, made_by=made_by)
            self.views.findings_panel.set_finding(record, finding, made_by=made_by)
        for report in reported.foreign:
            by = f" by {report.manufacturer}" if report.manufacturer else ""
            reason = f"structured report{by} ({report.title or 'untitled'}): listed, not read"
            self.session.add_problem(FileProblem(report.path, reason, report.why))
        self._show_boxes()

    def model_changed(self) -> None:
        """Another model is being loaded: the findings so far stay on show, marked as made
        by the previous model, and no longer count as this model's (analysis and reports
        score those images again, unless the new model has kept results for them)."""
        previous = self._analysis.card
        label = previous.label if previous is not None else "another model"
        for finding in self.session.forget_findings():
            record = self.session.records[finding.path]
            self.views.browser.set_finding(finding, made_by=label)
            self.views.findings_panel.set_finding(record, finding, made_by=label)
        self._show_boxes()  # no flag or boxes of the previous model on the image

    def _on_finding(self, finding: Finding) -> None:
        if finding.probability is None and finding.error and finding.path not in self._failed:
            # An image the model could not read is a problem like a file the scan could not:
            # listed with its reason, not counted as analysed.
            self._failed.add(finding.path)
            self.views.problems.add_problem(FileProblem(finding.path, finding.error))
            self._update_problems_title()
        self.views.browser.set_finding(finding)
        self.views.findings_panel.set_finding(self.session.records[finding.path], finding)
        if finding.warnings:  # known before the image is opened
            self.views.findings_panel.set_warnings(finding.path, finding.warnings)
        self._show_boxes()

    def _show_boxes(self) -> None:
        """Say the model's flag over the image on show and draw the localiser's boxes (on
        frame 1, which the model saw)."""
        view, current = self.views.view, self.session.current
        if view.image is None or current is None or view.record != current:
            return
        # The model's finding, else what an SR in the folder says (show_reported).
        finding = self.session.findings.get(current.path) or self._reported.get(current.path)
        if finding is None:
            view.set_flag("")
        else:
            view.set_flag(f"Model: {flag_text(finding)}", FLAG_COLOURS[finding.flag].name())
        boxes = finding.drawn_boxes if finding is not None and view.image.frame == 0 else ()
        if boxes != view.box_overlay.boxes:
            view.box_overlay.set_boxes(boxes)

    def _on_decision(self, change: tuple[Path, Decision | None]) -> None:
        path, decision = change
        self.views.browser.set_decision(path, decision)
        self.views.findings_panel.set_decision(path, decision)

    def _on_current(self, record: ImageRecord | None) -> None:
        self.views.status.clear_readouts()  # they described the previous image
        if record is not None:
            order = self.views.browser.visible_records()
            self._loader.request(record, neighbours(order, record))
            self.views.findings_panel.select(record.path)

    # -- navigation -------------------------------------------------------------------------

    def show_record(self, record: ImageRecord) -> None:
        """Display ``record`` (decoded in the worker) and decode its neighbours ahead."""
        if self.session.current == record and self.views.view.record == record:
            return
        self.session.show(record)

    def _select(self, record: ImageRecord | None) -> None:
        if record is not None:
            self.views.browser.select_record(record)

    def step_image(self, delta: int) -> None:
        """Next (or previous) image in browser order."""
        self._select(step_in(self.views.browser.visible_records(), self.session.current, delta))

    def step_series(self, delta: int) -> None:
        """First image of the next (or previous) series in browser order."""
        order = self.views.browser.visible_records()
        self._select(series_step(order, self.session.current, delta))

    def jump(self, index: int) -> None:
        """The image at ``index`` in browser order (-1: the last)."""
        order = self.views.browser.visible_records()
        self._select(order[index] if order else None)

    def step_frame(self, delta: int) -> None:
        """Next (or previous) frame of a multi-frame image; window and zoom stay.

        Steps count from the frame last asked for, so a held key runs through the frames
        even while the decoder is behind.
        """
        record = self.session.current
        if record is None or record.frames < 2 or self.views.view.record != record:
            return  # frames are stepped on a shown image only
        self.session.set_frame(self.session.frame + delta)

    def _position_text(self, record: ImageRecord, frame: int) -> str:
        """``"Image 3 / 9 · frame 2 / 4"``: where the image lies among those the browser
        shows now (after filter and sort)."""
        order = self.views.browser.visible_records()
        parts = [f"Image {order.index(record) + 1} / {len(order)}"] if record in order else []
        if record.frames > 1:
            parts.append(f"frame {frame + 1} / {record.frames}")
        return " \u00b7 ".join(parts)

    def _update_position(self) -> None:
        """The browser's images or their order changed: say where the shown image lies now."""
        view = self.views.view
        if view.record is not None and view.image is not None:
            view.set_position_text(self._position_text(view.record, view.image.frame))

    def _on_loaded(self, loaded: Loaded) -> None:
        v = self.views
        if v.view.record == loaded.record and v.view.image is not None:
            v.view.set_frame(loaded, self._position_text(loaded.record, loaded.image.frame))
        else:
            v.view.set_image(loaded, self._position_text(loaded.record, loaded.image.frame))
            v.tags.set_rows(loaded.tags)
        v.status.show_window(v.view.window_text)
        self._show_boxes()
        self._analysis.preload()  # the first image is on screen: the model's turn (once)
        if loaded.image.frame == 0:
            v.findings_panel.set_warnings(loaded.record.path, loaded.image.warnings)
        if not self.session.display.heatmap_visible:
            return
        if loaded.image.frame == 0:
            self.request_heatmap()
        else:  # analysis, and so the heatmap, covers the first frame only
            v.status.showMessage("Heatmap: the model analyses frame 1 only", 4000)

    def _on_load_failed(self, record: ImageRecord, reason: str, details: str) -> None:
        self.views.view.clear_image()
        self.views.view.show_message(f"{record.path.name} cannot be shown:\n{reason}")
        self.views.tags.set_rows(())
        self._notify(f"{record.path.name}: {reason}", details)

    # -- analysis ---------------------------------------------------------------------------

    def _start_analysis(self, records: list[ImageRecord]) -> None:
        """Analyse the images of ``records`` that have no result from this model yet.

        An analysis cancelled (or a session closed) half-way so resumes where it stopped.
        """
        if not records:
            return
        if not self._analysis.available:
            self._notify(f"Analysis unavailable: {self._analysis.unavailable_reason}")
            return
        todo = [r for r in records if r.path not in self.session.findings]
        if not todo:
            self.views.status.showMessage(
                f"Already analysed by this model: {len(records)} of {len(records)} images", 6000
            )
            return
        self._analysis.analyse(todo)

    def analyse_image(self) -> None:
        """Score the image on show."""
        current = self.session.current
        self._start_analysis([current] if current else [])

    def analyse_series(self) -> None:
        """Score the series of the image on show, in browser order."""
        current = self.session.current
        if current is not None:
            order = self.views.browser.visible_records()
            self._start_analysis([r for r in order if r.series_uid == current.series_uid])

    def analyse_folder(self) -> None:
        """Score every image of the open folder."""
        self._start_analysis(list(self.session.records.values()))

    def show_boxes(self, on: bool) -> None:
        """Show (or hide) the localiser's boxes on flagged images."""
        self.session.update_display(boxes_visible=on)

    def show_heatmap(self, on: bool) -> None:
        """Show (or hide) the heatmap, asking the model for it when the image has none."""
        self.session.update_display(heatmap_visible=on)
        if on and not self.views.view.has_heatmap:
            self.request_heatmap()

    def request_heatmap(self) -> None:
        if self.session.current is not None and self._analysis.available:
            self._analysis.request_heatmap(self.session.current)

    def _on_heatmap(self, finding: Finding, heatmap: np.ndarray | None) -> None:
        self.session.add_finding(finding)
        current = self.session.current
        if current is not None and finding.path == current.path:
            self.views.view.set_heatmap(heatmap)

    # -- reader decisions -------------------------------------------------------------------

    def decide(self, decision: Decision | None, record: ImageRecord | None = None) -> None:
        """Record the reader's decision about the flag of ``record`` (default: the current)."""
        record = record or self.session.current
        if record is not None and not self.session.decide(record, decision):
            self._notify(f"{record.path.name} is still being read; decide again in a moment")
