"""The viewer's responsiveness, measured on the real window: the body of
``benchmarks.gui_responsiveness`` (which see), and the helpers other viewer benchmarks share.
"""

from __future__ import annotations

import csv
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.inference.card import default_model_dir
from fracture_desktop.gui.app import application, read_ahead
from fracture_desktop.gui.main_window import MainWindow
from fracture_desktop.gui.settings import ViewerSettings

FRACATLAS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fracatlas"
STALL_TARGET_MS = 50.0
NEXT_IMAGE_TARGET_MS = 100.0


def test_images(count: int) -> list[Path]:
    """FracAtlas test-split images (then others when the split is smaller than ``count``)."""
    with open(FRACATLAS / "splits.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    index = {p.name: p for p in (FRACATLAS / "images").rglob("*.jpg")}
    ordered = [r["image_id"] for r in rows if r["split"] == "test"]
    ordered += [r["image_id"] for r in rows if r["split"] != "test"]
    return [index[name] for name in ordered if name in index][:count]


def build_folder(target: Path, count: int) -> None:
    for source in test_images(count):
        try:
            os.link(source, target / source.name)
        except OSError:
            shutil.copy(source, target / source.name)


def model_dir(scratch: Path) -> Path:
    chosen = default_model_dir()
    if (chosen / "model_card.json").is_file():
        return chosen
    from fracture_desktop.training.export import untrained_model_dir

    untrained_model_dir(scratch / "untrained")
    return scratch / "untrained"


def wait_for(app: QApplication, done: Callable[[], bool], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the viewer did not finish in time")
        app.processEvents()
        time.sleep(0.001)  # a benchmark driver, not a test: poll without spinning a core


class Heartbeat:
    """Records the largest gap between ticks of a 1 ms timer: the event loop's stalls."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(1)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        self.gaps.append(self._clock.nsecsElapsed() / 1e6)
        self._clock.restart()


def run(images: int, steps: int) -> int:
    """Open ``images`` FracAtlas images in the viewer, step ``steps`` times, analyse them all;
    print the times."""
    app = application()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        folder = scratch / "images"
        folder.mkdir()
        build_folder(folder, images)
        settings = ViewerSettings(QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat))
        started = time.perf_counter()
        read_ahead(folder)  # as run_viewer starts the viewer
        window = MainWindow(settings, DecisionStore(scratch / "d.sqlite3"), model_dir(scratch))
        engine_ready: list[float] = []
        window.analysis.sig_engine_ready.connect(
            lambda _device: engine_ready.append(time.perf_counter() - started)
        )
        window.resize(1400, 900)
        window.show()
        wait_for(app, lambda: window.analysis.card is not None, 30)
        window.open_folder(folder)
        wait_for(app, lambda: window.view.image is not None, 120)
        first_image = time.perf_counter() - started
        wait_for(app, lambda: window.session.scan_done, 120)
        n = len(window.session.records)
        print(f"images: {n}  model: {window.analysis.card.label}  platform: {app.platformName()}")
        # Imports are already paid here: ``benchmarks.cold_start`` times a launch.
        print(f"first image shown {first_image:.2f} s after the window began to be built")
        # The viewer loads and warms the model in the background at start-up, so that
        # importing torch (which holds the GIL in long stretches) never lands in a batch.
        wait_for(app, lambda: bool(engine_ready), 120)
        print(f"model loaded and warmed in the background {engine_ready[0]:.1f} s after start")

        # 1. Next image: step through the series as a reader does (a short pause per image
        #    lets the neighbour prefetch work, as reading time does).
        timings = []
        for _ in range(steps):
            target = window.browser.visible_records().index(window.session.current) + 1
            expected = window.browser.visible_records()[target]
            start = time.perf_counter()
            window.reading.step_image(1)
            wait_for(app, lambda e=expected: window.view.record == e, 10)
            app.processEvents()  # the paint that shows it
            timings.append((time.perf_counter() - start) * 1000)
            pause = time.monotonic() + 0.3
            wait_for(app, lambda p=pause: time.monotonic() > p, 1)
        timings.sort()
        print(
            f"next image displayed: median {statistics.median(timings):.1f} ms, "
            f"max {timings[-1]:.1f} ms over {len(timings)} steps "
            f"(target < {NEXT_IMAGE_TARGET_MS:.0f} ms)"
        )

        # 2. Event-loop stalls while the whole folder is analysed.
        #    The real event loop runs (QEventLoop), exactly as in the application.
        beat = Heartbeat()
        loop = QEventLoop()
        window.analysis.sig_finished.connect(loop.quit)
        start = time.perf_counter()
        beat.start()
        window.reading.analyse_folder()
        loop.exec()
        beat.stop()
        elapsed = time.perf_counter() - start
        gaps = sorted(beat.gaps)
        p99 = gaps[int(len(gaps) * 0.99)]
        print(
            f"analysis: {n} images in {elapsed:.1f} s ({n / elapsed:.1f} images/s) on "
            f"{window.status.device_label.text()}"
        )
        print(
            f"event loop during analysis: longest stall {gaps[-1]:.1f} ms, p99 {p99:.1f} ms, "
            f"{len(gaps)} heartbeats (target < {STALL_TARGET_MS:.0f} ms)"
        )
        window.close()
    return 0
