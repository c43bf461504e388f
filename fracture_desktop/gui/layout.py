"""The main window's layout: the image view in the middle, the panels in docks at its sides,
the status bar, the toolbar's heatmap controls, the docks' share of the window's width, and
the window's size on the screen it opens on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication
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
#: The window's first size where the screen has room for it; a smaller screen gets all of
#: its room (a 1366 x 768 laptop: Confirm / Reject and the status bar stay on screen).
PREFERRED_SIZE = QSize(1400, 900)


def fitted_geometry(room: QRect, wanted: QRect | None = None) -> QRect:
    """Where the window goes in ``room`` (a screen's available geometry): ``wanted`` (a
    restored geometry) made no larger than ``room`` and moved inside it, or else
    :data:`PREFERRED_SIZE` at most, centred."""
    if wanted is None:
        size = PREFERRED_SIZE.boundedTo(room.size())
        wanted = QRect(0, 0, size.width(), size.height())
        wanted.moveCenter(room.center())
    rect = QRect(wanted.topLeft(), wanted.size().boundedTo(room.size()))
    rect.moveLeft(max(room.left(), min(rect.left(), room.right() - rect.width() + 1)))
    rect.moveTop(max(room.top(), min(rect.top(), room.bottom() - rect.height() + 1)))
    return rect


def screen_room(w: QWidget) -> QRect:
    """The available geometry (less task bars) of the screen ``w`` is on."""
    screen = w.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit_to_screen(w: QMainWindow, keep: bool = False) -> None:
    """Fit ``w`` to its screen: its preferred size at most, centred; with ``keep``, the
    geometry it has (restored from last time) only made to fit (another screen now)."""
    rect = fitted_geometry(screen_room(w), w.geometry() if keep else None)
    w.resize(rect.size())
    w.move(rect.topLeft())


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


def reset_layout(w: MainWindow) -> None:
    """View > Reset layout: every panel back in its first place, the window fitted to its
    screen."""
    w.showNormal()
    w.restoreState(w.default_state)
    fit_to_screen(w)
    # Once the resize is through: the panels then take their first shares of the width.
    QTimer.singleShot(0, lambda: size_docks(w))
