"""Helpers for the viewer tests: a fake engine, waiting for a folder, mouse drags."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.findings import CARD_THRESHOLDS, Flag, Thresholds
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.inference.card import ModelCard
from fracture_desktop.core.inference.engine import Prediction
from fracture_desktop.core.prepared import PreparedImage


class FakeEngine:
    """Scores by file name so tests know which flag each image gets.

    ``gate`` (optional) blocks every prediction after the first until it is set, so a test
    can cancel a batch at a known point without timing guesses.
    """

    device = "cpu"
    runs_on = "cpu, fake"
    card: ModelCard | None = None  # the real card of the model folder, set when built
    domain = None  # no domain check: nothing is outside
    lanes = 1  # one image at a time, as the viewer scores
    thresholds_source = CARD_THRESHOLDS

    @property
    def thresholds(self) -> Thresholds:
        assert self.card is not None
        return self.card.thresholds

    def __init__(
        self,
        scores: dict[str, float],
        gate: threading.Event | None = None,
        boxes: dict[str, tuple[Box, ...]] | None = None,
    ) -> None:
        self.scores = scores
        self.gate = gate
        self.boxes = boxes or {}
        self.calls = 0

    def warm_up(self) -> None:
        """Nothing to build."""

    def predict(self, image: LoadedImage, heatmap: bool = False) -> Prediction:
        return self._score(image.path, image.shape, heatmap)

    def predict_prepared(self, prepared: PreparedImage, heatmap: bool = False) -> Prediction:
        return self._score(prepared.record.path, prepared.shape, heatmap)

    def _score(self, path: Path, shape: tuple[int, int], heatmap: bool) -> Prediction:
        self.calls += 1
        if self.gate is not None and self.calls > 1:
            self.gate.wait(timeout=10)
        p = self.scores.get(path.name, 0.1)
        flag = Flag.FRACTURE if p >= 0.6 else Flag.DOUBT if p >= 0.4 else Flag.NO_FRACTURE
        hm = np.linspace(0, 1, shape[0] * shape[1], dtype=np.float32)
        boxes = self.boxes.get(path.name, ())
        return Prediction(p, flag, hm.reshape(shape) if heatmap else None, boxes)


def open_and_wait(qtbot, window, folder: Path) -> None:
    """Open ``folder`` and wait for the scan, every identity and the first image."""
    with qtbot.waitSignal(window.scan.sig_finished, timeout=20000):
        window.open_folder(folder)
    # A JPEG 2000 radiograph takes seconds to decode on a loaded machine (CI, training).
    qtbot.waitUntil(lambda: window.view.image is not None, timeout=30000)
    qtbot.waitUntil(
        lambda: len(window.session.identities) == len(window.session.records), timeout=20000
    )


def noise_folder(parent: Path) -> Path:
    """A folder of as many noise PNGs as the shift warning needs, under ``parent``."""
    from PIL import Image

    from fracture_desktop.core.shift import MIN_FOLDER_SIZE

    folder = parent / "noise"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(MIN_FOLDER_SIZE):
        Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def select(qtbot, window, name: str) -> None:
    """Select the record whose file is ``name`` and wait until the view shows it."""
    record = next(r for r in window.session.records.values() if r.path.name == name)
    window.browser.select_record(record)
    qtbot.waitUntil(lambda: window.view.record == record, timeout=10000)


def analyse_folder(qtbot, window) -> None:
    """Analyse the open folder and wait until the analysis has finished."""
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=30000):
        window.reading.analyse_folder()


def measure(qtbot, window, offset: QPoint) -> tuple[QWidget, QPoint]:
    """Turn measuring on and drag ``offset`` from the image view's centre; returns the
    viewport and its centre."""
    viewport = window.view.graphics.viewport()
    centre = viewport.rect().center()
    window.act_measure.trigger()
    qtbot.wait(QApplication.doubleClickInterval() + 50)  # no double click with the last one
    drag(viewport, centre, centre + offset)
    return viewport, centre


def drag(
    widget: QWidget, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton, steps: int = 8
) -> None:
    """Press, move in steps with the button held, release (QTest.mouseMove drops buttons)."""
    QTest.mousePress(widget, button, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, steps + 1):
        pos = QPointF(start + (end - start) * (i / steps))
        event = QMouseEvent(
            QEvent.Type.MouseMove,
            pos,
            widget.mapToGlobal(pos),
            Qt.MouseButton.NoButton,
            button,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(widget, event)
    QTest.mouseRelease(widget, button, Qt.KeyboardModifier.NoModifier, end)
