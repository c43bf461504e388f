"""The status bar: cursor readout, window, notices, analysis progress, device and model."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from fracture_desktop.core.findings import CARD_THRESHOLDS
from fracture_desktop.core.imaging.records import ScanResult
from fracture_desktop.core.inference.card import INTENDED_USE, INTENDED_USE_SHORT, ModelCard
from fracture_desktop.core.measure import Distance
from fracture_desktop.core.site_profile import thresholds_in_use
from fracture_desktop.gui.widgets.eliding_label import ElidingLabel
from fracture_desktop.gui.widgets.notifications import NotificationArea


def remaining_text(seconds: float) -> str:
    """``"about 12 s left"``; a negative ``seconds`` means not known yet."""
    if seconds < 0:
        return "estimating time left\u2026"
    if seconds < 90:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.0f} min left"


class StatusArea(QStatusBar):
    """The window's status bar and the labels in it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Short of room, the longer fragments give way down to their first words, cut with
        # an ellipsis (the tooltip has them whole) rather than clipped, or widening the
        # window past a laptop's screen: "x 893 y 1085 · value 404 · 178.6, 2…".
        self.cursor_label = ElidingLabel("", keep=len("x 8888 y 8888 \u00b7 value 8888"))
        self.window_label = QLabel("")
        self.distance_label = ElidingLabel("", keep=len("Distance: 888.8 mm"))
        self.notices = NotificationArea()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setMinimumWidth(60)
        self.progress.setVisible(False)
        self.remaining_label = ElidingLabel("", keep=0)  # the progress bar says enough
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.device_label = QLabel("")
        self.model_label = ElidingLabel("Model: checking\u2026", keep=len("Model: ") + 12)
        self.intended_label = QLabel(INTENDED_USE_SHORT + ".")
        self.intended_label.setToolTip(INTENDED_USE)
        self.intended_label.setObjectName("intendedUse")
        # Shown only while the data store cannot be written (gui/main_window.py).
        self.store_label = QLabel("")
        self.store_label.setObjectName("storeWarning")
        self.store_label.setStyleSheet("color: #ffb74d; font-weight: bold")
        self.store_label.setVisible(False)
        self.addWidget(self.cursor_label, 1)
        self.addWidget(self.window_label)
        self.addWidget(self.distance_label)
        self.addWidget(self.notices)
        for widget in (
            self.store_label,
            self.progress,
            self.remaining_label,
            self.cancel_button,
            self.device_label,
            self.model_label,
            self.intended_label,
        ):
            self.addPermanentWidget(widget)

    def scan_progress(self, done: int, total: int) -> None:
        self.showMessage(f"Scanning: {done} of {total} files", 0)

    def scan_finished(self, result: ScanResult) -> None:
        found = f"{len(result.images)} images, {len(result.problems)} problems"
        self.showMessage(f"{found} in {result.root}", 8000)

    def show_window(self, text: str) -> None:
        """The window in short (``W 400 L 40``); its name is in the tooltip and the corner."""
        self.window_label.setText(text.split(" (", 1)[0])
        self.window_label.setToolTip(text)

    def show_distance(self, measured: Distance | None) -> None:
        """The latest measurement of the image; None (all deleted) clears it."""
        self.distance_label.setText(f"Distance: {measured.label}" if measured else "")

    def clear_readouts(self) -> None:
        """Forget what was read off the previous image (pixel, window, distance)."""
        for label in (self.cursor_label, self.window_label, self.distance_label):
            label.clear()

    def show_device(self, chosen: str, actual: str = "") -> None:
        """``actual``: where the engine runs and what runs it, ``"cpu, ONNX Runtime 1.32.0"``.
        The label names the device and the runtime in a word (``auto \u2192 cpu \u00b7 ONNX``),
        as narrow as the label was before it named the runtime; the tooltip says it all."""
        device, _, runtime = actual.partition(", ")
        shown = f"{chosen} \u2192 {device}" if device and device != chosen else chosen
        if runtime:
            self.device_label.setText(f"{shown} \u00b7 {runtime.split()[0]}")
            self.device_label.setToolTip(f"Device {chosen}: the model runs on {actual}")
        else:
            self.device_label.setText(f"Device: {shown}")
            self.device_label.setToolTip("")

    def show_model(self, card: ModelCard | None, reason: str) -> None:
        if card is not None and not reason:
            source = thresholds_in_use(card)[1]
            # The id only, marked when a site's thresholds flag instead of the card's: the
            # version, sha256 and the profile's name are in the tooltip and Help > Model.
            site = "" if source == CARD_THRESHOLDS else " \u00b7 site thresholds"
            self.model_label.setText(f"Model: {card.id}{site}")
            self.model_label.setToolTip(f"{card.label}\nThresholds: {source}\n{card.intended_use}")
        else:
            self.model_label.setText("Model: unavailable")
            self.model_label.setToolTip(reason)
            self.showMessage(f"Analysis unavailable: {reason}", 10000)

    def analysis_started(self, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.remaining_label.setText(remaining_text(-1))

    def analysis_progress(self, done: int, _total: int, remaining: float) -> None:
        self.progress.setValue(done)
        self.remaining_label.setText(remaining_text(remaining))

    def analysis_finished(self, cancelled: bool) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.remaining_label.setText("")
        done = self.progress.value()
        message = f"Analysis cancelled after {done} images" if cancelled else "Analysis finished"
        self.showMessage(message, 8000)
