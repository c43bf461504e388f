"""The window fits the screen it opens on, remembers its size and panels, and View > Reset
layout puts them back; a 1366 x 768 laptop shows everything."""

from __future__ import annotations

import pytest
from gui_helpers import measure, open_and_wait, select
from PySide6.QtCore import QPoint, QRect, Qt

import fracture_desktop.gui.layout as layout
from fracture_desktop.core.paths import resources_root
from fracture_desktop.gui.layout import DOCK_SHARES, PREFERRED_SIZE, fitted_geometry

pytestmark = pytest.mark.gui

#: A 1366 x 768 laptop screen less a 40 px task bar.
LAPTOP = QRect(0, 0, 1366, 728)


@pytest.fixture
def laptop(monkeypatch) -> QRect:
    """The window's screen is a 1366 x 768 laptop's."""
    monkeypatch.setattr(layout, "screen_room", lambda _w: QRect(LAPTOP))
    return LAPTOP


def test_the_window_takes_its_preferred_size_or_the_screen_it_has() -> None:
    assert fitted_geometry(LAPTOP) == LAPTOP
    large = QRect(0, 0, 1920, 1040)
    rect = fitted_geometry(large)
    assert rect.size() == PREFERRED_SIZE and rect.center() == large.center()
    # Last time's geometry, from a larger screen, is cut to this one and moved onto it.
    assert fitted_geometry(LAPTOP, QRect(200, 100, 1600, 1000)) == LAPTOP
    assert fitted_geometry(LAPTOP, QRect(1000, 500, 800, 600)) == QRect(566, 128, 800, 600)
    assert fitted_geometry(large, QRect(10, 20, 800, 600)) == QRect(10, 20, 800, 600)


def test_on_a_laptop_screen_everything_stays_on_it(qtbot, make_window, laptop: QRect) -> None:
    window = make_window(size=None)  # as the window sizes itself
    assert window.width() <= laptop.width() and window.height() <= laptop.height()
    open_and_wait(qtbot, window, resources_root() / "samples")
    select(qtbot, window, "CR_hip_RG2_JPLY_fixed.dcm")
    measure(qtbot, window, QPoint(150, 40))  # a distance in the status bar
    window.status.clearMessage()
    qtbot.wait(50)
    assert window.status.distance_label.text().startswith("Distance:")
    assert window.width() <= laptop.width() and window.height() <= laptop.height()
    hint = window.minimumSizeHint()
    assert hint.width() <= laptop.width() and hint.height() <= laptop.height()
    inside = window.rect()
    for widget in (
        window.findings_panel.fracture_button, window.findings_panel.uncertain_button,
        window.status.intended_label, window.status.model_label,
    ):  # fmt: skip
        top_left = widget.mapTo(window, QPoint(0, 0))
        shown = QRect(top_left, widget.size())
        assert widget.isVisible() and inside.contains(shown), widget


def test_size_and_panels_are_kept_and_reset_layout_restores_them(
    qtbot, make_window, laptop: QRect
) -> None:
    window = make_window(size=None)
    window.resize(760, 640)  # within the test screen (offscreen: 800 x 800)
    window.problems_dock.hide()
    window.resizeDocks([window.browser_dock], [300], Qt.Orientation.Horizontal)
    qtbot.wait(20)
    kept = window.browser_dock.width()
    window.close()

    again = make_window(size=None)  # a restart
    qtbot.wait(20)
    assert (again.width(), again.height()) == (760, 640)
    assert not again.problems_dock.isVisible()
    assert again.browser_dock.width() == pytest.approx(kept, abs=8)

    again.act_reset_layout.trigger()
    qtbot.waitUntil(lambda: again.problems_dock.isVisible())
    assert again.size() == laptop.size()
    qtbot.waitUntil(lambda: abs(again.browser_dock.width() - laptop.width() * DOCK_SHARES[0]) < 12)
    assert again.findings_dock.width() == pytest.approx(laptop.width() * DOCK_SHARES[1], abs=12)
