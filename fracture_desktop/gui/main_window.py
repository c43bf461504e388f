"""The main window: assembly of the reading session, the workers, the views and the actions.

The state lives in the Qt-free :class:`~fracture_desktop.core.session.ReadingSession`
(``window.session``); :class:`~fracture_desktop.gui.controllers.reading.ReadingController`
keeps the views in step with it, and slow work runs in the controllers' workers, every result
arriving as a signal. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QDockWidget, QFileDialog, QInputDialog, QMainWindow, QSlider

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.prepared import PreparedCache
from fracture_desktop.core.results_store import ResultsStore
from fracture_desktop.core.session import ReadingSession
from fracture_desktop.core.store import DataStore, StoreNotice
from fracture_desktop.gui.bridge import Bridge, Worker
from fracture_desktop.gui.controllers.analysis import AnalysisController, EngineFactory
from fracture_desktop.gui.controllers.images import ImageLoader
from fracture_desktop.gui.controllers.reading import ReadingController, ReadingViews
from fracture_desktop.gui.controllers.reports import ReportWriter
from fracture_desktop.gui.controllers.scan import ScanController
from fracture_desktop.gui.controllers.site import SiteController
from fracture_desktop.gui.controllers.thumbnails import ThumbnailMaker
from fracture_desktop.gui.help_menu import HelpMenu
from fracture_desktop.gui.layout import (
    build_widgets,
    fit_to_screen,
    share_width_change,
    size_docks,
)
from fracture_desktop.gui.menus import build_actions, name_presets
from fracture_desktop.gui.model_picker import ModelPicker
from fracture_desktop.gui.report_flow import ReportFlow
from fracture_desktop.gui.settings import ViewerSettings
from fracture_desktop.gui.status import StatusArea
from fracture_desktop.gui.view_commands import ViewCommands
from fracture_desktop.gui.widgets.browser import StudyBrowser
from fracture_desktop.gui.widgets.image_view import ImageView
from fracture_desktop.gui.widgets.legend import HeatmapLegend
from fracture_desktop.gui.widgets.panels import FindingsPanel, ProblemsPanel
from fracture_desktop.gui.widgets.tag_browser import TagBrowser
from fracture_desktop.gui.windowing import voi_label

WINDOW_TITLE = "Fracture Desktop"
#: Shown in the title and the status bar while decisions and results cannot be kept.
NOT_SAVING = "decisions and results are not being saved"


class MainWindow(QMainWindow):
    """The viewer.

    Parameters
    ----------
    settings : ViewerSettings
        Persisted preferences.
    decisions : DecisionStore
        Where reader decisions are kept.
    model_dir : Path, optional
        Model folder; defaults to ``$FRACTURE_DESKTOP_MODEL_DIR`` or the shipped model.
    engine_factory : callable, optional
        Builds the inference engine in its worker (tests pass a fake).
    results : ResultsStore, optional
        Where analysis results are kept between sessions; None keeps nothing.

    Attributes
    ----------
    session : ReadingSession
        The reading state: folder, records, current image, findings, decisions, display.
    reading : ReadingController
        Navigation, analysis requests, heatmaps and reader decisions.
    status : StatusArea
        The status bar and its labels.
    view_commands : ViewCommands
        Window presets, the end of measuring, what the mouse wheel does.
    help_menu : HelpMenu
        The shortcuts, model card and About dialogs.
    """

    # Made by gui/layout.py's build_widgets.
    view: ImageView
    browser: StudyBrowser
    problems: ProblemsPanel
    findings_panel: FindingsPanel
    tags: TagBrowser
    browser_dock: QDockWidget
    problems_dock: QDockWidget
    findings_dock: QDockWidget
    tags_dock: QDockWidget
    status: StatusArea
    opacity: QSlider
    legend: HeatmapLegend
    default_state: QByteArray  # the docks as built (gui/layout.py's reset_layout)

    def __init__(
        self,
        settings: ViewerSettings,
        decisions: DecisionStore,
        model_dir: Path | None = None,
        engine_factory: EngineFactory | None = None,
        results: ResultsStore | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.session = ReadingSession(decisions, settings.display())
        self.setWindowTitle(WINDOW_TITLE)
        self.setAcceptDrops(True)

        self.bridge = Bridge(self)
        self.workers = [
            Worker(name, self.bridge, self.notify)
            for name in ("fd-scan", "fd-image", "fd-thumbs", "fd-model", "fd-validate")
        ]
        scan_worker, image_worker, thumb_worker, model_worker, validate_worker = self.workers
        self.scan = ScanController(scan_worker, self)
        self.loader = ImageLoader(image_worker, self)
        chosen = settings.model_dir
        if model_dir is None and chosen is not None and chosen.is_dir():
            model_dir = chosen  # the model the reader picked last time
        self.prepared = PreparedCache()  # model inputs made with the thumbnails
        self.analysis = AnalysisController(
            model_worker, model_dir, settings.device, engine_factory, self.prepared, results, self
        )
        analysis = self.analysis
        self.thumbnails = ThumbnailMaker(thumb_worker, self.prepared, lambda: analysis.input_spec)
        self.report_writer = ReportWriter(self.analysis, decisions, self)

        build_widgets(self)
        views = ReadingViews(
            *(self.view, self.browser, self.findings_panel, self.problems, self.problems_dock),
            *(self.tags, self.status),
        )
        self.reading = ReadingController(
            self.session, views, self.loader, self.thumbnails, self.analysis, self.notify
        )
        writer, status = self.report_writer, self.status
        self.report_flow = ReportFlow(
            self.session, settings, writer, self.analysis, status, self.notify, self
        )
        self.site = SiteController(
            self.session, self.analysis, self.findings_panel, validate_worker, self.status, self
        )
        self.view_commands = ViewCommands(
            self.view, self.session, self.reading, settings, self.status
        )
        self.help_menu = HelpMenu(self, self.analysis)
        build_actions(self)
        self.model_picker = ModelPicker(
            self.model_menu, self.act_add_model, settings, self.analysis, self.reading,
            self.status, self.notify, self,
        )  # fmt: skip
        self._connect()
        self._restore()
        self._watch_store(decisions.store)
        self.analysis.check_model()
        self.status.showMessage("Open a folder (Ctrl+O) or drop one on the window", 0)
        self.view.show_message("Open a folder (Ctrl+O) or drop one on the window")

    # -- construction -----------------------------------------------------------------------

    def _connect(self) -> None:
        session, status, analysis = self.session, self.status, self.analysis
        self.scan.sig_records_found.connect(session.add_records)
        self.scan.sig_problem_found.connect(session.add_problem)
        self.scan.sig_progress.connect(status.scan_progress)
        self.scan.sig_finished.connect(session.finish_scan)
        self.scan.sig_reports_read.connect(self.reading.show_reported)
        session.events.scan_finished.connect(status.scan_finished)
        session.events.display.connect(self.settings.save_display)
        analysis.sig_engine_ready.connect(
            lambda actual: status.show_device(analysis.device, actual)
        )
        analysis.sig_started.connect(status.analysis_started)
        analysis.sig_progress.connect(status.analysis_progress)
        analysis.sig_finished.connect(status.analysis_finished)
        self.report_writer.sig_finding.connect(session.add_finding)
        self.view.sig_cursor_text.connect(status.cursor_label.setText)
        self.view.sig_window_text.connect(status.show_window)
        self.view.sig_measured.connect(status.show_distance)
        status.cancel_button.clicked.connect(analysis.cancel)
        self.view.viewbox.sig_wheel_step.connect(self.view_commands.step_by_wheel)
        # After the reading controller has shown the image: its presets are known now.
        self.loader.sig_loaded.connect(
            lambda _loaded: name_presets(
                self, [voi_label(p, i) for i, p in enumerate(self.view.presets)]
            )
        )
        self.report_flow.sig_written.connect(lambda _path: self.act_open_report.setEnabled(True))
        self.opacity.valueChanged.connect(lambda v: session.update_display(heatmap_opacity=v))

    def _restore(self) -> None:
        self.default_state = self.saveState()  # the docks as built: View > Reset layout
        geometry, state = self.settings.geometry()
        if geometry is not None and self.restoreGeometry(geometry):
            fit_to_screen(self, keep=True)  # last time's, on a screen that may be smaller
        else:
            fit_to_screen(self)
        if state is not None:
            self.restoreState(state)
        self._docks_sized = state is not None  # else sized when first shown
        display = self.session.display
        self.act_overlays.setChecked(display.overlays)
        self.act_heatmap.setChecked(display.heatmap_visible)
        self.act_boxes.setChecked(display.boxes_visible)
        self.opacity.setValue(display.heatmap_opacity)
        self.device_actions[self.analysis.device].setChecked(True)
        self.status.show_device(self.analysis.device)
        self.act_wheel.setChecked(self.settings.wheel_steps_images)
        self.view.viewbox.wheel_steps = self.settings.wheel_steps_images
        name_presets(self, [])

    def _watch_store(self, store: DataStore) -> None:
        """Tell the reader what opening the data store found (damage set aside, no
        persistence), and any write that fails later (from whichever thread wrote)."""
        self._store = store
        if not store.persistent:
            self.setWindowTitle(f"{WINDOW_TITLE} \u2014 {NOT_SAVING}")
            self.status.store_label.setText(NOT_SAVING)
            self.status.store_label.setVisible(True)
        for notice in store.notices:
            self.notify(notice.reason, notice.details)
        store.problem.connect(self._on_store_problem)

    def _on_store_problem(self, notice: StoreNotice) -> None:
        def show() -> None:
            self.notify(notice.reason, notice.details)
            self.status.store_label.setText(NOT_SAVING)
            self.status.store_label.setVisible(True)

        self.bridge.post(show)

    def ask_reader_name(self) -> None:
        """Analysis > Reader name: who records decisions and makes reports (kept in the
        settings, recorded with each decision, printed on every report)."""
        name, accepted = QInputDialog.getText(
            self, "Reader name", "Your name, as reports and decisions should record it:",
            text=self.settings.reader_name,
        )  # fmt: skip
        if accepted:
            self.settings.reader_name = name
            self.session.decisions.reader = self.settings.reader_name

    def notify(self, reason: str, details: str = "") -> None:
        """Show a short message to the reader, with details on demand."""
        self.status.notices.notify(reason, details)

    # -- opening ----------------------------------------------------------------------------

    def choose_folder(self) -> None:
        start = str(self.session.folder or (self.settings.recent or [Path.home()])[0])
        chosen = QFileDialog.getExistingDirectory(self, "Open folder", start)
        if chosen:
            self.open_folder(Path(chosen))

    def open_folder(self, folder: Path) -> None:
        """Show what ``folder`` holds; the browser fills while the scan runs."""
        folder = Path(folder)
        if not folder.exists():
            self.notify(f"{folder} does not exist")
            return
        self.analysis.cancel()
        self.thumbnails.reset()
        self.loader.clear()
        self.session.open(folder)
        self.settings.add_recent(folder)
        self.setWindowTitle(f"{folder.name or folder} \u2014 {WINDOW_TITLE}")
        self.status.showMessage(f"Scanning {folder}\u2026", 0)
        self.scan.start(folder)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            target = paths[0]
            self.open_folder(target if target.is_dir() else target.parent)

    # -- model and device -------------------------------------------------------------------

    def set_device(self, device: str) -> None:
        self.analysis.set_device(device)
        self.settings.device = device
        self.device_actions[device].setChecked(True)
        self.status.show_device(device)

    # -- closing ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel every job and join every worker thread (idempotent)."""
        self.scan.cancel()
        self.thumbnails.cancel()
        self.analysis.cancel()
        self.report_writer.cancel()
        self.site.cancel()
        self.loader.clear()
        default_guard().interrupt()  # a decode in progress would hold its thread up to 30 s
        for worker in self.workers:
            worker.shutdown()
        self._store.problem.disconnect(self._on_store_problem)
        self.bridge.close()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_sized:
            self._docks_sized = True
            size_docks(self)
            # A window manager gives a new window the keyboard focus; an X server without
            # one (Xvfb, a kiosk) does not, and then no shortcut works until a click.
            self.activateWindow()

    def resizeEvent(self, event: QResizeEvent) -> None:
        old, new = event.oldSize().width(), event.size().width()
        super().resizeEvent(event)
        if old > 0 and new != old:
            share_width_change(self, old, new)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)
