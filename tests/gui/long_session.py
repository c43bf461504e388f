"""A reading session run in its own interpreter, for the quit test (not collected by pytest).

``python long_session.py FOLDER MODEL_DIR SCRATCH``: opens FOLDER in the real main window,
analyses it with a fake engine (scores by name, no torch), steps through a hundred images,
closes the window and quits through the event loop, as a reader's File > Quit does. The exit
status is the event loop's; a crash while the interpreter finalizes shows as a signal status
and "Fatal Python error" on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gui_helpers import FakeEngine
from PySide6.QtCore import QSettings, QTimer

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.inference.card import load_card
from fracture_desktop.core.results_store import ResultsStore
from fracture_desktop.gui.app import application
from fracture_desktop.gui.main_window import MainWindow
from fracture_desktop.gui.settings import ViewerSettings

STEPS = 100
WATCHDOG_MS = 120_000


def main() -> int:
    folder, model_dir, scratch = (Path(a) for a in sys.argv[1:4])
    app = application()
    engine = FakeEngine({})
    engine.card = load_card(model_dir)
    settings = ViewerSettings(QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat))
    window = MainWindow(
        settings,
        DecisionStore(scratch / "d.sqlite3"),
        model_dir,
        lambda _dir, _device: engine,
        ResultsStore(scratch / "r.sqlite3"),
    )
    window.show()
    steps = {"left": STEPS}
    stepper = QTimer(window)
    stepper.setInterval(2)

    def step() -> None:
        steps["left"] -= 1
        window.reading.step_image(1)
        if steps["left"] <= 0:
            stepper.stop()
            window.close()
            app.quit()

    stepper.timeout.connect(step)
    window.scan.sig_finished.connect(lambda _result: window.reading.analyse_folder())
    window.analysis.sig_finished.connect(lambda _cancelled: stepper.start())
    QTimer.singleShot(WATCHDOG_MS, lambda: app.exit(3))
    window.open_folder(folder)
    status = app.exec()
    print(f"analysed {len(window.session.findings)} of {len(window.session.records)}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
