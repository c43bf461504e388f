"""The main window: wires the browser, the image view and the panels to the controllers.

It holds the reading session's state (records, findings, identities) and routes user intent;
all slow work happens in the controllers' workers, and every result arrives as a signal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSlider,
    QWidget,
)

from fracture_desktop.core.decisions import Decision, DecisionStore
from fracture_desktop.core.findings import Finding
from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord, ScanResult
from fracture_desktop.core.inference.card import ModelCard
from fracture_desktop.gui.bridge import Bridge, Worker
from fracture_desktop.gui.controllers.analysis import AnalysisController, EngineFactory
from fracture_desktop.gui.controllers.export import ExportRequest, ReportExporter
from fracture_desktop.gui.controllers.images import ImageLoader, Loaded
from fracture_desktop.gui.controllers.scan import ScanController
from fracture_desktop.gui.controllers.thumbnails import ThumbnailMaker
from fracture_desktop.gui.measure import Distance
from fracture_desktop.gui.settings import DEVICES, ViewerSettings
from fracture_desktop.gui.widgets.browser import StudyBrowser
from fracture_desktop.gui.widgets.dialogs import (
    INTENDED_USE,
    TextDialog,
    model_card_html,
    shortcuts_html,
)
from fracture_desktop.gui.widgets.export_dialog import ExportDialog
from fracture_desktop.gui.widgets.image_view import ZOOM_STEP, ImageView
from fracture_desktop.gui.widgets.legend import HeatmapLegend
from fracture_desktop.gui.widgets.notifications import NotificationArea
from fracture_desktop.gui.widgets.panels import FindingsPanel, ProblemsPanel
from fracture_desktop.gui.widgets.tag_browser import TagBrowser

WINDOW_TITLE = "Fracture Desktop"
PRESET_KEYS = 9


def _remaining_text(seconds: float) -> str:
    if seconds < 0:
        return "estimating time left\u2026"
    if seconds < 90:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.0f} min left"


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
    """

    def __init__(
        self,
        settings: ViewerSettings,
        decisions: DecisionStore,
        model_dir: Path | None = None,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.decisions = decisions
        self.folder: Path | None = None
        self.current: ImageRecord | None = None
        self.frame = 0  # of the current record, the one last asked for
        self.records: dict[Path, ImageRecord] = {}
        self.findings: dict[Path, Finding] = {}
        self.identities: dict[Path, str] = {}
        self.file_problems: list[FileProblem] = []
        self.scan_done = False
        self.export_dialog: ExportDialog | None = None
        self.export_progress: QProgressDialog | None = None
        self.setWindowTitle(WINDOW_TITLE)
        self.setAcceptDrops(True)
        self.resize(1400, 900)

        self.bridge = Bridge(self)
        notify = self._notify
        self.workers = [
            Worker(name, self.bridge, notify)
            for name in ("fd-scan", "fd-image", "fd-thumbs", "fd-model")
        ]
        scan_worker, image_worker, thumb_worker, model_worker = self.workers
        self.scan = ScanController(scan_worker, self)
        self.loader = ImageLoader(image_worker, self)
        self.thumbnails = ThumbnailMaker(thumb_worker, self)
        self.analysis = AnalysisController(
            model_worker, model_dir, settings.device, engine_factory, self
        )
        self.exporter = ReportExporter(self.analysis, decisions, self)

        self._build_widgets()
        self._build_actions()
        self._connect()
        self._restore()
        self.analysis.check_model()
        self.statusBar().showMessage("Open a folder (Ctrl+O) or drop one on the window", 0)

    # -- construction -----------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.split()[0].lower() + "Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_widgets(self) -> None:
        self.view = ImageView()
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
            [self.browser_dock, self.findings_dock], [340, 320], Qt.Orientation.Horizontal
        )
        self.resizeDocks(
            [self.browser_dock, self.problems_dock], [600, 160], Qt.Orientation.Vertical
        )

        bar = self.statusBar()
        self.cursor_label = QLabel("")
        self.window_label = QLabel("")
        self.notices = NotificationArea()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        self.remaining_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.device_label = QLabel("")
        self.model_label = QLabel("Model: checking\u2026")
        self.intended_label = QLabel(INTENDED_USE)
        self.intended_label.setObjectName("intendedUse")
        bar.addWidget(self.cursor_label, 1)
        bar.addWidget(self.window_label)
        bar.addWidget(self.notices)
        for widget in (
            self.progress,
            self.remaining_label,
            self.cancel_button,
            self.device_label,
            self.model_label,
            self.intended_label,
        ):
            bar.addPermanentWidget(widget)

        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setMaximumWidth(110)
        self.opacity.setToolTip("Heatmap opacity")
        self.legend = HeatmapLegend()

    def _action(
        self,
        text: str,
        shortcut: str | None,
        slot: Callable[..., object],
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(shortcut)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whichever dock has focus
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a("&Open Folder\u2026", "Ctrl+O", self.choose_folder)
        self.act_export = a("&Export report\u2026", "Ctrl+E", self.export_report)
        self.act_quit = a("&Quit", "Ctrl+Q", self.close)
        self.act_fit = a("&Fit", "F", self.view.fit)
        self.act_actual = a("&1:1 pixels", "A", self.view.actual_size)
        self.act_zoom_in = a("Zoom &in", "+", lambda: self.view.zoom_by(ZOOM_STEP))
        self.act_zoom_out = a("Zoom &out", "-", lambda: self.view.zoom_by(1 / ZOOM_STEP))
        self.act_invert = a("&Invert", "I", self._toggle_invert)
        self.act_rotate = a("&Rotate 90\u00b0", "R", self.view.rotate)
        self.act_flip = a("F&lip left-right", "L", self.view.flip)
        self.act_reset = a("R&eset view", "Shift+R", self.view.reset)
        self.act_measure = a("&Measure distance", "M", self._set_measuring, checkable=True)
        self.act_clear_measure = a("Clear measurement", "Esc", self._clear_measurement)
        self.act_overlays = a("Corner &overlays", "O", self._set_overlays, checkable=True)
        self.act_tags = self.tags_dock.toggleViewAction()
        self.act_tags.setShortcut("T")
        self.addAction(self.act_tags)
        self.act_presets = [
            a(f"Window preset {n}", str(n), lambda _=False, i=n - 1: self._preset(i))
            for n in range(1, PRESET_KEYS + 1)
        ]
        self.act_next = a("Next image", "Down", lambda: self.step_image(1))
        self.act_prev = a("Previous image", "Up", lambda: self.step_image(-1))
        self.act_next_series = a("Next series", "Right", lambda: self.step_series(1))
        self.act_prev_series = a("Previous series", "Left", lambda: self.step_series(-1))
        self.act_next_frame = a("Next frame", "PgDown", lambda: self.step_frame(1))
        self.act_prev_frame = a("Previous frame", "PgUp", lambda: self.step_frame(-1))
        self.act_first = a("First image", "Home", lambda: self.jump(0))
        self.act_last = a("Last image", "End", lambda: self.jump(-1))
        self.act_analyse_image = a("Analyse &image", "Ctrl+1", self.analyse_image)
        self.act_analyse_series = a("Analyse &series", "Ctrl+2", self.analyse_series)
        self.act_analyse_folder = a("Analyse &folder", "Ctrl+3", self.analyse_folder)
        self.act_cancel = a("&Cancel analysis", "Ctrl+.", self.analysis.cancel)
        self.act_heatmap = a("&Heatmap overlay", "H", self._set_heatmap, checkable=True)
        self.act_confirm = a("&Confirm flag", "Y", lambda: self.decide(Decision.CONFIRMED))
        self.act_reject = a("&Reject flag", "N", lambda: self.decide(Decision.REJECTED))
        self.act_undecide = a("Clear &decision", "U", lambda: self.decide(None))
        self.act_shortcuts = a("&Shortcuts", "F1", self.show_shortcuts)
        self.act_model = a("&Model\u2026", None, self.show_model)

        self.device_group = QActionGroup(self)
        self.device_actions = {}
        for device in DEVICES:
            act = QAction(device.upper() if device != "auto" else "Auto", self, checkable=True)
            act.triggered.connect(lambda _=False, d=device: self.set_device(d))
            self.device_group.addAction(act)
            self.device_actions[device] = act

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(self.act_export)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        view_menu = menu.addMenu("&View")
        for act in (
            self.act_fit, self.act_actual, self.act_zoom_in, self.act_zoom_out, None,
            self.act_invert, self.act_rotate, self.act_flip, self.act_reset, None,
            self.act_measure, self.act_clear_measure, self.act_overlays, self.act_tags, None,
            self.act_next, self.act_prev, self.act_next_series, self.act_prev_series,
            self.act_next_frame, self.act_prev_frame, self.act_first, self.act_last,
        ):  # fmt: skip
            view_menu.addSeparator() if act is None else view_menu.addAction(act)
        window_menu = view_menu.addMenu("Window presets")
        for act in self.act_presets:
            window_menu.addAction(act)
        view_menu.addMenu("Panels").addActions(
            [
                d.toggleViewAction()
                for d in (self.browser_dock, self.problems_dock, self.findings_dock)
            ]
        )
        analysis_menu = menu.addMenu("&Analysis")
        for act in (
            self.act_analyse_image, self.act_analyse_series, self.act_analyse_folder,
            self.act_cancel, None, self.act_heatmap, None,
            self.act_confirm, self.act_reject, self.act_undecide,
        ):  # fmt: skip
            analysis_menu.addSeparator() if act is None else analysis_menu.addAction(act)
        analysis_menu.addMenu("&Device").addActions(list(self.device_actions.values()))
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.act_shortcuts)
        help_menu.addAction(self.act_model)

        # Short toolbar labels; menus keep the full names and shortcuts.
        for act, label in (
            (self.act_open, "Open"), (self.act_actual, "1:1"), (self.act_rotate, "Rotate"),
            (self.act_flip, "Flip"), (self.act_reset, "Reset"), (self.act_measure, "Measure"),
            (self.act_analyse_image, "▶ Image"), (self.act_analyse_series, "▶ Series"),
            (self.act_analyse_folder, "▶ Folder"), (self.act_heatmap, "Heatmap"),
        ):  # fmt: skip
            act.setIconText(label)
        tools = self.addToolBar("Tools")
        tools.setObjectName("toolsToolbar")
        tools.setMovable(False)
        tools.addAction(self.act_open)
        tools.addSeparator()
        for act in (self.act_fit, self.act_actual, self.act_invert, self.act_rotate,
                    self.act_flip, self.act_reset, self.act_measure):  # fmt: skip
            tools.addAction(act)
        tools.addSeparator()
        for act in (self.act_analyse_image, self.act_analyse_series, self.act_analyse_folder):
            tools.addAction(act)
        tools.addSeparator()
        tools.addAction(self.act_heatmap)
        tools.addWidget(self.opacity)
        tools.addWidget(self.legend)

    def _connect(self) -> None:
        self.scan.sig_records_found.connect(self._on_records)
        self.scan.sig_problem_found.connect(self._on_problem)
        self.scan.sig_progress.connect(self._on_scan_progress)
        self.scan.sig_finished.connect(self._on_scan_finished)
        self.thumbnails.sig_thumbnail_ready.connect(self._on_thumbnail)
        self.thumbnails.sig_identity_ready.connect(self._on_identity)
        self.loader.sig_loaded.connect(self._on_loaded)
        self.loader.sig_failed.connect(self._on_load_failed)
        self.analysis.sig_model_state.connect(self._on_model_state)
        self.analysis.sig_engine_ready.connect(self._on_engine_ready)
        self.analysis.sig_devices_known.connect(self._on_devices_known)
        self.analysis.sig_started.connect(self._on_analysis_started)
        self.analysis.sig_progress.connect(self._on_analysis_progress)
        self.analysis.sig_finding.connect(self._on_finding)
        self.analysis.sig_finished.connect(self._on_analysis_finished)
        self.analysis.sig_heatmap_ready.connect(self._on_heatmap)
        self.exporter.sig_progress.connect(self._on_export_progress)
        self.exporter.sig_finished.connect(self._on_export_finished)
        self.browser.sig_record_selected.connect(self.show_record)
        self.findings_panel.sig_record_selected.connect(self.browser.select_record)
        self.findings_panel.sig_decision.connect(self._on_panel_decision)
        self.view.sig_cursor_text.connect(self.cursor_label.setText)
        self.view.sig_window_text.connect(self.window_label.setText)
        self.view.sig_measured.connect(self._on_measured)
        self.cancel_button.clicked.connect(self.analysis.cancel)
        self.opacity.valueChanged.connect(self._on_opacity)

    def _restore(self) -> None:
        geometry, state = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self.act_overlays.setChecked(self.settings.overlays)
        self.view.set_overlays_visible(self.settings.overlays)
        self.act_heatmap.setChecked(self.settings.heatmap)
        self.view.set_heatmap_visible(self.settings.heatmap)
        self.opacity.setValue(self.settings.heatmap_opacity)
        self.view.set_heatmap_opacity(self.settings.heatmap_opacity / 100)
        self.device_actions[self.analysis.device].setChecked(True)
        self._update_device_label()

    # -- errors -----------------------------------------------------------------------------

    def _notify(self, reason: str, details: str = "") -> None:
        self.notices.notify(reason, details)

    # -- opening ----------------------------------------------------------------------------

    def choose_folder(self) -> None:
        start = str(self.folder or (self.settings.recent or [Path.home()])[0])
        chosen = QFileDialog.getExistingDirectory(self, "Open folder", start)
        if chosen:
            self.open_folder(Path(chosen))

    def open_folder(self, folder: Path) -> None:
        """Show what ``folder`` holds; the browser fills while the scan runs."""
        folder = Path(folder)
        if not folder.exists():
            self._notify(f"{folder} does not exist")
            return
        self.analysis.cancel()
        self.thumbnails.reset()
        self.loader.clear()
        self.folder = folder
        self.current = None
        self.records.clear()
        self.findings.clear()
        self.identities.clear()
        self.file_problems.clear()
        self.scan_done = False
        self.browser.clear()
        self.problems.clear()
        self.findings_panel.clear()
        self.view.clear_image()
        self.tags.set_rows(())
        self._update_problems_title()
        self.settings.add_recent(folder)
        self.setWindowTitle(f"{folder.name or folder} \u2014 {WINDOW_TITLE}")
        self.statusBar().showMessage(f"Scanning {folder}\u2026", 0)
        self.scan.start(folder)

    def _fill_recent(self) -> None:
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

    def _on_records(self, records: list[ImageRecord]) -> None:
        for record in records:
            self.records[record.path] = record
        self.browser.add_records(records)
        self.thumbnails.add(records)

    def _on_problem(self, problem: FileProblem) -> None:
        self.file_problems.append(problem)
        self.problems.add_problem(problem)
        self._update_problems_title()

    def _update_problems_title(self) -> None:
        n = self.problems.topLevelItemCount()
        self.problems_dock.setWindowTitle(f"Problems ({n})" if n else "Problems")

    def _on_scan_progress(self, done: int, total: int) -> None:
        self.statusBar().showMessage(f"Scanning: {done} of {total} files", 0)

    def _on_scan_finished(self, result: ScanResult) -> None:
        self.scan_done = True
        self.statusBar().showMessage(
            f"{len(result.images)} images, {len(result.problems)} problems in {result.root}",
            8000,
        )

    def _on_thumbnail(self, record: ImageRecord, image: QImage) -> None:
        self.browser.set_thumbnail(record, image)

    def _on_identity(self, record: ImageRecord, identity: str) -> None:
        self.identities[record.path] = identity
        decision = self.decisions.get(identity)
        if decision is not None:
            self.browser.set_decision(record.path, decision)
            self.findings_panel.set_decision(record.path, decision)

    # -- reading ----------------------------------------------------------------------------

    def show_record(self, record: ImageRecord) -> None:
        """Display ``record`` (decoded in the worker) and decode its neighbours ahead."""
        if self.current == record and self.view.record == record:
            return
        self.current, self.frame = record, 0
        order = self.browser.visible_records()
        i = order.index(record) if record in order else -1
        neighbours = tuple(order[j] for j in (i + 1, i - 1) if 0 <= j < len(order) and i >= 0)
        self.loader.request(record, neighbours)
        self.findings_panel.select(record.path)

    def _position_text(self, loaded: Loaded) -> str:
        record, order = loaded.record, self.browser.visible_records()
        parts = [f"Image {order.index(record) + 1} / {len(order)}"] if record in order else []
        if record.frames > 1:
            parts.append(f"frame {loaded.image.frame + 1} / {record.frames}")
        return " \u00b7 ".join(parts)

    def _on_loaded(self, loaded: Loaded) -> None:
        if self.view.record == loaded.record and self.view.image is not None:
            self.view.set_frame(loaded, self._position_text(loaded))
        else:
            self.view.set_image(loaded, self._position_text(loaded))
            self.tags.set_rows(loaded.tags)
        self.window_label.setText(self.view.window_text)
        if loaded.image.warnings:
            self.statusBar().showMessage("; ".join(loaded.image.warnings), 8000)
        if not self.act_heatmap.isChecked():
            return
        if loaded.image.frame == 0:
            self._request_heatmap()
        else:  # analysis, and so the heatmap, covers the first frame only
            self.statusBar().showMessage("Heatmap: the model analyses frame 1 only", 4000)

    def step_frame(self, delta: int) -> None:
        """Next (or previous) frame of a multi-frame image; window and zoom stay.

        Steps count from the frame last asked for, so a held key runs through the frames
        even while the decoder is behind.
        """
        record = self.current
        if record is None or record.frames < 2 or self.view.record != record:
            return  # frames are stepped on a shown image only
        frame = max(0, min(record.frames - 1, self.frame + delta))
        if frame != self.frame:
            self.frame = frame
            self.loader.request(record, frame=frame)

    def _on_load_failed(self, record: ImageRecord, reason: str, details: str) -> None:
        self.view.clear_image()
        self.tags.set_rows(())
        self._notify(f"{record.path.name}: {reason}", details)

    def step_image(self, delta: int) -> None:
        order = self.browser.visible_records()
        if not order:
            return
        i = order.index(self.current) if self.current in order else -1
        self.browser.select_record(order[max(0, min(len(order) - 1, i + delta))])

    def step_series(self, delta: int) -> None:
        """First image of the next (or previous) series in browser order."""
        order = self.browser.visible_records()
        if not order or self.current not in order:
            return
        firsts = [
            r for i, r in enumerate(order) if i == 0 or order[i - 1].series_uid != r.series_uid
        ]
        current_first = max(
            (r for r in firsts if order.index(r) <= order.index(self.current)), key=order.index
        )
        j = max(0, min(len(firsts) - 1, firsts.index(current_first) + delta))
        self.browser.select_record(firsts[j])

    def jump(self, index: int) -> None:
        order = self.browser.visible_records()
        if order:
            self.browser.select_record(order[index])

    def _preset(self, index: int) -> None:
        if self.view.apply_preset(index):
            self.statusBar().showMessage(f"Window: {self.view.window_text}", 3000)

    def _toggle_invert(self) -> None:
        self.view.set_inverted(not self.view.user_invert)

    def _set_measuring(self, on: bool) -> None:
        self.view.set_measuring(on)

    def _clear_measurement(self) -> None:
        self.view.clear_measurement()
        self.act_measure.setChecked(False)
        self.view.set_measuring(False)

    def _on_measured(self, measured: Distance) -> None:
        self.statusBar().showMessage(f"Distance: {measured.label}", 0)

    def _set_overlays(self, on: bool) -> None:
        self.view.set_overlays_visible(on)
        self.settings.overlays = on

    # -- analysis ---------------------------------------------------------------------------

    def _start_analysis(self, records: list[ImageRecord]) -> None:
        if not records:
            return
        if not self.analysis.available:
            self._notify(f"Analysis unavailable: {self.analysis.unavailable_reason}")
            return
        self.analysis.analyse(records)

    def analyse_image(self) -> None:
        self._start_analysis([self.current] if self.current else [])

    def analyse_series(self) -> None:
        current = self.current
        if current is not None:
            order = self.browser.visible_records()
            self._start_analysis([r for r in order if r.series_uid == current.series_uid])

    def analyse_folder(self) -> None:
        self._start_analysis(list(self.records.values()))

    def set_device(self, device: str) -> None:
        self.analysis.set_device(device)
        self.settings.device = device
        self.device_actions[device].setChecked(True)
        self._update_device_label()

    def _update_device_label(self, actual: str = "") -> None:
        chosen = self.analysis.device
        shown = f"{chosen} \u2192 {actual}" if actual and actual != chosen else chosen
        self.device_label.setText(f"Device: {shown}")

    def _on_engine_ready(self, actual: str) -> None:
        self._update_device_label(actual)

    def _on_devices_known(self, devices: tuple[str, ...]) -> None:
        """Offer only the devices this machine has (CUDA is offered until torch says)."""
        for device, act in self.device_actions.items():
            act.setEnabled(device in devices)
            act.setToolTip("" if device in devices else "Not available on this machine")

    def _on_model_state(self, card: ModelCard | None, reason: str) -> None:
        available = card is not None and not reason
        for act in (
            self.act_analyse_image, self.act_analyse_series, self.act_analyse_folder,
            self.act_export,
        ):  # fmt: skip
            act.setEnabled(available)
            act.setToolTip(act.text().replace("&", "") if available else f"Unavailable: {reason}")
        if available:
            self.model_label.setText(f"Model: {card.label}")
            self.model_label.setToolTip(card.intended_use)
        else:
            self.model_label.setText("Model: unavailable")
            self.model_label.setToolTip(reason)
            self.statusBar().showMessage(f"Analysis unavailable: {reason}", 10000)

    def _on_analysis_started(self, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.remaining_label.setText(_remaining_text(-1))

    def _on_analysis_progress(self, done: int, total: int, remaining: float) -> None:
        self.progress.setValue(done)
        self.remaining_label.setText(_remaining_text(remaining))

    def _on_analysis_finished(self, cancelled: bool) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.remaining_label.setText("")
        done = self.progress.value()
        message = f"Analysis cancelled after {done} images" if cancelled else "Analysis finished"
        self.statusBar().showMessage(message, 8000)

    def _on_finding(self, finding: Finding) -> None:
        record = self.records.get(finding.path)
        if record is None:
            return  # from a folder that is no longer open
        self.findings[finding.path] = finding
        if finding.identity:
            self.identities[finding.path] = finding.identity
        self.browser.set_finding(finding)
        self.findings_panel.set_finding(record, finding)
        decision = self.decisions.get(finding.identity) if finding.identity else None
        self.findings_panel.set_decision(finding.path, decision)
        self.browser.set_decision(finding.path, decision)

    def _set_heatmap(self, on: bool) -> None:
        self.settings.heatmap = on
        self.view.set_heatmap_visible(on)
        if on and not self.view.has_heatmap:
            self._request_heatmap()

    def _request_heatmap(self) -> None:
        if self.current is not None and self.analysis.available:
            self.analysis.request_heatmap(self.current)

    def _on_heatmap(self, finding: Finding, heatmap: np.ndarray | None) -> None:
        self._on_finding(finding)
        if self.current is not None and finding.path == self.current.path:
            self.view.set_heatmap(heatmap)

    def _on_opacity(self, value: int) -> None:
        self.view.set_heatmap_opacity(value / 100)
        self.settings.heatmap_opacity = value

    # -- reports ----------------------------------------------------------------------------

    def export_report(self) -> None:
        """Ask where the reports of the open folder go, then write them in the model worker."""
        if self.exporter.running:
            self._notify("A report is already being exported")
            return
        if self.folder is None or not self.records:
            self._notify("Open a folder with images before exporting a report")
            return
        if not self.scan_done:
            self._notify("The folder is still being scanned; export when the scan is done")
            return
        if not self.analysis.available:
            self._notify(f"Export unavailable: {self.analysis.unavailable_reason}")
            return
        missing = sum(path not in self.findings for path in self.records)
        summary = f"{len(self.records)} images in {self.folder}" + (
            f"; {missing} not analysed yet will be analysed first." if missing else "."
        )
        if self.export_dialog is not None:
            self.export_dialog.deleteLater()  # keep one: each export builds a fresh dialog
        dialog = ExportDialog(self.settings.export_folder, self.folder.name, summary, self)
        dialog.accepted.connect(lambda: self._start_export(dialog))
        self.export_dialog = dialog
        dialog.open()

    def _start_export(self, dialog: ExportDialog) -> None:
        if self.folder is None:  # the folder was closed while the dialog was open
            return
        if dialog.folder is not None:
            self.settings.export_folder = dialog.folder
        request = ExportRequest(
            records=tuple(self.records.values()),
            source=str(self.folder),
            csv_path=dialog.paths["csv"],
            pdf_path=dialog.paths["pdf"],
            deidentify=dialog.deidentify.isChecked(),
            problems=tuple(self.file_problems),
            known=dict(self.findings),
        )
        progress = QProgressDialog("Preparing the report\u2026", "Cancel", 0, 0, self)
        progress.setWindowTitle("Export report")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        progress.canceled.connect(self.exporter.cancel)
        progress.show()
        self.export_progress = progress
        self.exporter.export(request)

    def _on_export_progress(self, what: str, done: int, total: int) -> None:
        if self.export_progress is not None:
            self.export_progress.setLabelText(f"{what}: {done} of {total}")
            self.export_progress.setRange(0, total)
            self.export_progress.setValue(done)

    def _on_export_finished(self, written: tuple[Path, ...], cancelled: bool) -> None:
        if self.export_progress is not None:
            self.export_progress.hide()  # hide, not close: closing it would emit canceled
            self.export_progress.deleteLater()
            self.export_progress = None
        if cancelled:
            self.statusBar().showMessage("Export cancelled; no report was written", 8000)
        elif written:
            names = ", ".join(path.name for path in written)
            self.statusBar().showMessage(f"Report written: {names}", 10000)

    # -- reader decisions -------------------------------------------------------------------

    def decide(self, decision: Decision | None, record: ImageRecord | None = None) -> None:
        """Record the reader's decision about the flag of ``record`` (default: the current)."""
        record = record or self.current
        if record is None:
            return
        identity = self.identities.get(record.path)
        if identity is None:
            self._notify(f"{record.path.name} is still being read; decide again in a moment")
            return
        self.decisions.set(identity, decision)
        self.browser.set_decision(record.path, decision)
        self.findings_panel.set_decision(record.path, decision)

    def _on_panel_decision(self, record: ImageRecord, decision: Decision | None) -> None:
        self.decide(decision, record)

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

    # -- closing ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel every job and join every worker thread (idempotent)."""
        self.scan.cancel()
        self.thumbnails.cancel()
        self.analysis.cancel()
        self.exporter.cancel()
        self.loader.clear()
        default_guard().interrupt()  # a decode in progress would hold its thread up to 30 s
        for worker in self.workers:
            worker.shutdown()
        self.bridge.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)
