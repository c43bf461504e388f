"""The main window's layout: the image view in the middle, the panels in docks at its sides,
the status bar, the toolbar's heatmap controls, and the docks' share of the window's width."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSlider, QWidget

from fracture_desktop.gui.status import StatusArea
from fracture_desktop.gui.widgets.browser import StudyBrowser
from fracture_desktop.gui.widgets.image_view import ImageView
from fracture_desktop.gui.widgets.legend import HeatmapLegend
from fracture_desktop.gui.widgets.panels import FindingsPanel, ProblemsPanel
from fracture_desktop.gui.widgets.tag_browser import TagBrowser

if TYPE_CHECKING:
    from fracture_desktop.gui.main_window import MainWindow

#: The side panels' first widths, as shares of the window's; they keep their share as the
#: window grows or shrinks (a maximised window gives the panels room too).
DOCK_SHARES = (0.25, 0.27)


def _dock(w: QMainWindow, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    dock = QDockWidget(title, w)
    dock.setObjectName(title.split()[0].lower() + "Dock")  # names the dock in saved state
    dock.setWidget(widget)
    w.addDockWidget(area, dock)
    return dock


def build_widgets(w: MainWindow) -> None:
    """Create ``w.view``, the panels (``w.browser``, ``w.problems``, ``w.findings_panel``,
    ``w.tags``) with their docks (``w.*_dock``), ``w.status``, ``w.opacity`` and ``w.legend``."""
    w.view = ImageView(w.session)
    w.setCentralWidget(w.view)
    w.browser = StudyBrowser()
    w.problems = ProblemsPanel()
    w.findings_panel = FindingsPanel()
    w.tags = TagBrowser()
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    w.browser_dock = _dock(w, "Studies", w.browser, left)
    w.problems_dock = _dock(w, "Problems", w.problems, left)
    w.findings_dock = _dock(w, "Findings", w.findings_panel, right)
    w.tags_dock = _dock(w, "Tags", w.tags, right)
    w.tabifyDockWidget(w.findings_dock, w.tags_dock)
    w.findings_dock.raise_()
    w.resizeDocks([w.browser_dock, w.problems_dock], [600, 160], Qt.Orientation.Vertical)
    w.status = StatusArea()
    w.setStatusBar(w.status)
    w.opacity = QSlider(Qt.Orientation.Horizontal)
    w.opacity.setRange(0, 100)
    w.opacity.setMaximumWidth(110)
    w.opacity.setToolTip("Heatmap opacity")
    w.legend = HeatmapLegend()


def size_docks(w: MainWindow) -> None:
    """Give the side panels their first shares of the window's width (:data:`DOCK_SHARES`).

    Called once the window is shown: before, the layout ignores sizes asked for.
    """
    widths = [round(w.width() * share) for share in DOCK_SHARES]
    w.resizeDocks([w.browser_dock, w.findings_dock], widths, Qt.Orientation.Horizontal)
    w.layout().activate()  # now, so the first image is fitted to its final view


def share_width_change(w: MainWindow, old: int, new: int) -> None:
    """The window went from ``old`` to ``new`` pixels wide, and the layout gave the central
    view all the change: share it with the panels, each keeping its share of the width."""
    docks: list[QDockWidget] = []
    for dock in (w.browser_dock, w.findings_dock, w.tags_dock):
        tabbed = w.tabifiedDockWidgets(dock)  # one size per group of tabs
        if dock.isVisible() and not dock.isFloating() and not set(tabbed) & set(docks):
            docks.append(dock)
    widths = [max(d.minimumSizeHint().width(), round(d.width() * new / old)) for d in docks]
    w.resizeDocks(docks, widths, Qt.Orientation.Horizontal)
