"""Start the viewer: one QApplication, the dark theme, the main window.

Qt and the window's modules are imported by the functions that need them, so that
:func:`run_viewer` starts the decoder workers first, and the decode of the folder's first
image: they run on the other core while this process imports Qt and builds the window
(docs/ARCHITECTURE.md, "Threads").
"""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.paths import resources_root

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from fracture_desktop.gui.main_window import MainWindow


def style_sheet() -> str:
    path = resources_root() / "style" / "dark.qss"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def application() -> QApplication:
    """The running QApplication, created and themed if there is none yet."""
    from PySide6.QtWidgets import QApplication

    from fracture_desktop.gui.settings import APPLICATION, ORGANISATION

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setStyle("Fusion")  # the style sheet is written against Fusion's metrics
    app.setStyleSheet(style_sheet())
    return app


def create_window(folder: Path | None = None) -> MainWindow:
    """A themed main window with the user's settings and decisions, opening ``folder``."""
    from fracture_desktop.core.decisions import DecisionStore
    from fracture_desktop.core.results_store import ResultsStore
    from fracture_desktop.core.store import DataStore
    from fracture_desktop.gui.main_window import MainWindow
    from fracture_desktop.gui.settings import ViewerSettings

    application()
    settings, store = ViewerSettings(), DataStore()
    decisions = DecisionStore(store, reader=settings.reader_name)
    window = MainWindow(settings, decisions, results=ResultsStore(store))
    if folder is not None:
        window.open_folder(folder)
    return window


def read_ahead(folder: Path | None) -> None:
    """Start a decoder worker and, for ``folder``, the decode of its first image: both run
    on the other core while this process imports Qt and builds the window
    (:func:`~fracture_desktop.core.imaging.scan.prefetch_first_image`).

    One worker only: a second one starting now would take that core's time from the first
    decode; it starts when two files are wanted at once.
    """
    default_guard().prestart(1)
    if folder is not None:
        from fracture_desktop.core.imaging.scan import prefetch_first_image

        threading.Thread(
            target=prefetch_first_image, args=(folder,), name="fd-first-image", daemon=True
        ).start()


def run_viewer(folder: Path | None) -> int:
    """Open the viewer (on ``folder`` when given) and run until the window closes.

    Returns 2 without starting Qt when no window can open here
    (:func:`~fracture_desktop.gui.display_check.display_problem`, printed on stderr).
    """
    from fracture_desktop.gui.display_check import display_problem

    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    read_ahead(folder)
    app = application()
    window = create_window(folder)

    def report(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        # A bug in a slot must not take the reader's session down: show it and carry on.
        details = "".join(traceback.format_exception(kind, exc, tb))
        window.notify(f"Internal error: {exc}", details)
        sys.__excepthook__(kind, exc, tb)

    sys.excepthook = report
    window.show()
    try:
        return app.exec()
    finally:
        sys.excepthook = sys.__excepthook__
