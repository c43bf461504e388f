"""Screenshot of the main window for docs/screenshot.png.

Opens the viewer on ``resources/samples`` (or a given folder), waits for the scan, analyses
the folder with whatever model is available (``$FRACTURE_DESKTOP_MODEL_DIR``, the shipped
model, else a random-weights one), shows the most suspicious image with its boxes (a model
with a localiser) or its heatmap, and
saves ``QWidget.grab()``. With ``--decide`` the reader confirms the flag of the most
suspicious image first, so the picture shows a decision. Run under Xvfb so the real platform
plugin draws: ``xvfb-run -s "-screen 0 1600x1000x24" python -m benchmarks.gui_screenshot``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings

from benchmarks.viewer_timing import model_dir, wait_for
from fracture_desktop.core.decisions import Decision, DecisionStore
from fracture_desktop.core.paths import resources_root
from fracture_desktop.core.results_store import ResultsStore
from fracture_desktop.gui.app import application
from fracture_desktop.gui.main_window import MainWindow
from fracture_desktop.gui.settings import ViewerSettings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=resources_root() / "samples")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--decide", action="store_true", help="confirm the first flag")
    args = parser.parse_args()
    app = application()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        settings = ViewerSettings(QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat))
        window = MainWindow(
            settings,
            DecisionStore(scratch / "d.sqlite3"),
            model_dir(scratch),
            results=ResultsStore(scratch / "r.sqlite3"),
        )
        window.resize(1600, 960)
        window.show()
        wait_for(app, lambda: window.analysis.card is not None, 30)
        window.open_folder(args.folder)
        wait_for(app, lambda: window.session.scan_done and window.view.image is not None, 60)
        finished: list[bool] = []
        window.analysis.sig_finished.connect(finished.append)
        window.reading.analyse_folder()
        wait_for(app, lambda: bool(finished), 300)
        window.browser.sort_box.setCurrentIndex(1)  # most suspicious first
        order = window.browser.visible_records()
        findings = window.session.findings
        localises = window.analysis.card is not None and window.analysis.card.localiser is not None
        # A localising model shows its boxes: the most suspicious image that has some.
        boxed = [r for r in order if r.path in findings and findings[r.path].drawn_boxes]
        first = boxed[0] if localises and boxed else order[0]
        window.browser.select_record(first)
        wait_for(app, lambda: window.view.record == first, 30)
        if args.decide:
            window.reading.decide(Decision.FRACTURE, first)
        if localises:
            wait_for(app, lambda: bool(window.view.box_overlay.shown), 30)
        else:
            window.opacity.setValue(40)
            if not window.act_heatmap.isChecked():
                window.act_heatmap.trigger()
            wait_for(app, lambda: window.view.has_heatmap, 60)
        window.browser.tree.expandAll()
        wait_for(app, lambda: len(window.session.identities) == len(window.session.records), 30)
        for _ in range(20):
            app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        print(f"saved {args.out} ({window.width()}x{window.height()}, {app.platformName()})")
        window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
