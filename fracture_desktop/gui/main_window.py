"""The main window: assembly of the reading session, the workers, the views and the actions.

The state lives in the Qt-free :class:`~fracture_desktop.core.session.ReadingSession`
(``window.session``); :class:`~fracture_desktop.gui.controllers.reading.ReadingController`
keeps the views in step with it, and slow work runs in the controllers' workers, every result
arriving as a signal. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QSlider, QWidget

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.imaging.records import ScanResult
from fracture_desktop.core.prepared import PreparedCache
from fracture_desktop.core.results_store import ResultsStore
from fracture_desktop.core.session import ReadingSession
from fracture_desktop.gui.bridge import Bridge, Worker
from fracture_desktop.gui.controllers.analysis import AnalysisController, EngineFactory
from fracture_desktop.gui.controllers.images import ImageLoader
from fracture_desktop.gui.controllers.reading import ReadingController, ReadingViews
from fracture_desktop.gui.controllers.reports import ReportWriter
from fracture_desktop.gui.controllers.scan import ScanController
from fracture_desktop.gui.controllers.site import SiteController
from fracture_desktop.gui.controllers.thumbnails import ThumbnailMaker
from fracture_desktop.gui.menus import build_actions, name_presets
from fracture_desktop.gui.model_picker import ModelPicker
from fracture_desktop.gui.report_flow import ReportFlow
from fracture_desktop.gui.settings import ViewerSettings
from fracture_desktop.gui.status import StatusArea
from fracture_desktop.gui.widgets.browser import StudyBrowser
from fracture_desktop.gui.widgets.dialogs import (
    TextDialog,
    about_html,
    model_card_html,
    shortcuts_html,
)
from fracture_desktop.gui.widgets.image_view import ImageView
from fracture_desktop.gui.widgets.legend import HeatmapLegend
from fracture_desktop.gui.widgets.panels import FindingsPanel, ProblemsPanel
from fracture_desktop.gui.widgets.tag_browser import TagBrowser
from fracture_desktop.gui.windowing import voi_label

WINDOW_TITLE = "Fracture Desktop"
#: The side panels' first widths, as shares of the window's; they keep their share as the
#: window grows or shrinks (a maximised window gives the panels room too).
DOCK_SHARES = (0.25, 0.27)


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
    """

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
        self.resize(1400, 900)

        self.bridge = Bridge(self)
        self.workers = [
            Worker(name, self.bridge, self.notify)
            for name in ("fd-scan", "fd-image", "fd-thumbs", "fd-model")
        ]
        scan_worker, image_worker, thumb_worker, model_worker = self.workers
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

        self._build_widgets()
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
        self.site = SiteController(self.session, self.analysis, self.findings_panel, self)
        build_actions(self)
        self.model_picker = ModelPicker(
            self.model_menu, self.act_add_model, settings, self.analysis, self.reading,
            self.status, self.notify, self,
        )  # fmt: skip
        self._connect()
        self._restore()
        self.analysis.check_model()
        self.status.showMessage("Open a folder (Ctrl+O) or drop one on the window", 0)
        self.view.show_message("Open a folder (Ctrl+O) or drop one on the window")

    # -- construction -----------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.split()[0].lower() + "Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_widgets(self) -> None:
        self.view = ImageView(self.session)
        self.setCentralWidget(self.view)
        self.browser = StudyBrowser()
        self.problems = ProblemsPanel()
        self.findings_panel = FindingsPanel()
        self.tags = TagBrowser()
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.browser_dock = self._dock("Studies", self.browser, left)
        self.problems_dock = self._dock("Problems", self.problems, left)
        self.findings_dock = self._dock("Findings", self.findings_panel, right)
        self.tags_dock = self._dock("Tags", self.tags, right)
        self.tabifyDockWidget(self.findings_dock, self.tags_dock)
        self.findings_dock.raise_()
        self.resizeDocks(
            [self.browser_dock, self.problems_dock], [600, 160], Qt.Orientation.Vertical
        )
        self.status = StatusArea()
        self.setStatusBar(self.status)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setMaximumWidth(110)
        self.opacity.setToolTip("Heatmap opacity")
        self.legend = HeatmapLegend()

    def _connect(self) -> None:
        session, status, analysis = self.session, self.status, self.analysis
        self.scan.sig_records_found.connect(session.add_records)
        self.scan.sig_problem_found.connect(session.add_problem)
        self.scan.sig_progress.connect(
            lambda done, total: status.showMessage(f"Scanning: {done} of {total} files", 0)
        )
        self.scan.sig_finished.connect(session.finish_scan)
        session.events.scan_finished.connect(self._on_scan_finished)
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
        self.view.sig_measured.connect(
            lambda measured: status.distance_label.setText(f"Distance: {measured.label}")
        )
        status.cancel_button.clicked.connect(analysis.cancel)
        self.view.viewbox.sig_wheel_step.connect(self._on_wheel_step)
        # After the reading controller has shown the image: its presets are known now.
        self.loader.sig_loaded.connect(
            lambda _loaded: name_presets(
                self, [voi_label(p, i) for i, p in enumerate(self.view.presets)]
            )
        )
        self.report_flow.sig_written.connect(lambda _path: self.act_open_report.setEnabled(True))
        self.opacity.valueChanged.connect(lambda v: session.update_display(heatmap_opacity=v))

    def _restore(self) -> None:
        geometry, state = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
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

    def fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent:
            act = self.recent_menu.addAction(str(folder))
            act.triggered.connect(lambda _=False, f=folder: self.open_folder(f))
        self.recent_menu.setEnabled(bool(self.settings.recent))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            target = paths[0]
            self.open_folder(target if target.is_dir() else target.parent)

    def _on_scan_finished(self, result: ScanResult) -> None:
        self.status.showMessage(
            f"{len(result.images)} images, {len(result.problems)} problems in {result.root}",
            8000,
        )

    # -- view commands ----------------------------------------------------------------------

    def apply_preset(self, index: int) -> None:
        if self.view.apply_preset(index):
            self.status.showMessage(f"Window: {self.view.window_text}", 3000)

    def clear_measurement(self) -> None:
        self.view.clear_measurement()
        self.act_measure.setChecked(False)
        self.view.set_measuring(False)

    def set_wheel_steps(self, on: bool) -> None:
        """The wheel steps through images (Ctrl+wheel zooms), or the other way round."""
        self.view.viewbox.wheel_steps = on
        self.settings.wheel_steps_images = on
        self.act_wheel.setChecked(on)

    def _on_wheel_step(self, delta: int) -> None:
        current = self.session.current
        if current is not None and current.frames > 1:
            self.reading.step_frame(delta)  # a multi-frame image: its frames first
        else:
            self.reading.step_image(delta)

    # -- model and device -------------------------------------------------------------------

    def set_device(self, device: str) -> None:
        self.analysis.set_device(device)
        self.settings.device = device
        self.device_actions[device].setChecked(True)
        self.status.show_device(device)

    # -- help -------------------------------------------------------------------------------

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """``(keys, what)`` for every action with a shortcut."""
        rows = []
        for act in self.actions():
            keys = act.shortcut().toString()
            if keys:
                rows.append((keys, act.text().replace("&", "").rstrip("\u2026")))
        return rows

    def show_shortcuts(self) -> None:
        TextDialog("Shortcuts", shortcuts_html(self.shortcut_rows()), self).open()

    def show_model(self) -> None:
        text = model_card_html(self.analysis.card, self.analysis.unavailable_reason)
        TextDialog("Model", text, self).open()

    def show_about(self) -> None:
        TextDialog("About Fracture Desktop", about_html(), self).open()

    # -- closing ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel every job and join every worker thread (idempotent)."""
        self.scan.cancel()
        self.thumbnails.cancel()
        self.analysis.cancel()
        self.report_writer.cancel()
        self.loader.clear()
        default_guard().interrupt()  # a decode in progress would hold its thread up to 30 s
        for worker in self.workers:
            worker.shutdown()
        self.bridge.close()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_sized:
            # Before the first show the layout ignores sizes asked for; now it takes them.
            self._docks_sized = True
            docks = [self.browser_dock, self.findings_dock]
            widths = [round(self.width() * share) for share in DOCK_SHARES]
            self.resizeDocks(docks, widths, Qt.Orientation.Horizontal)
            self.layout().activate()  # now, so the first image is fitted to its final view

    def resizeEvent(self, event: QResizeEvent) -> None:
        old, new = event.oldSize().width(), event.size().width()
        super().resizeEvent(event)
        if old > 0 and new != old:
            # The layout has given the central view all the change: share it with the panels.
            docks: list[QDockWidget] = []
            for dock in (self.browser_dock, self.findings_dock, self.tags_dock):
                tabbed = self.tabifiedDockWidgets(dock)  # one size per group of tabs
                if dock.isVisible() and not dock.isFloating() and not set(tabbed) & set(docks):
                    docks.append(dock)
            widths = [max(d.minimumSizeHint().width(), round(d.width() * new / old)) for d in docks]
            self.resizeDocks(docks, widths, Qt.Orientation.Horizontal)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)
