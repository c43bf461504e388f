"""Help dialogs: the model card and the list of shortcuts."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from fracture_desktop.core.inference.card import INTENDED_USE, ModelCard


def _metric_rows(metrics: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten the card's nested metrics into ``(name, value)`` rows."""
    if isinstance(metrics, dict):
        rows: list[tuple[str, str]] = []
        for key, value in metrics.items():
            rows += _metric_rows(value, f"{prefix}{key} / " if prefix or key else "")
        return rows
    if isinstance(metrics, float):
        return [(prefix.rstrip(" /"), f"{metrics:.3f}")]
    return [(prefix.rstrip(" /"), html.escape(str(metrics)))]


def model_card_html(card: ModelCard | None, unavailable: str) -> str:
    """What Help > Model shows: the card, or why there is no usable model."""
    if card is None:
        return (
            f"<h2>No model</h2><p>Analysis is unavailable: {html.escape(unavailable)}</p>"
            f"<p><b>{INTENDED_USE}</b></p>"
        )
    t = card.thresholds
    metrics = _metric_rows(card.metrics)
    metric_html = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in metrics) or (
        "<tr><td colspan=2>No test metrics in this card.</td></tr>"
    )
    status = (
        f"<p style='color:#ffb74d'>Unavailable: {html.escape(unavailable)}</p>"
        if unavailable
        else ""
    )
    return (
        f"<h2>{html.escape(card.id)} {html.escape(card.version)}</h2>{status}"
        f"<p><b>Intended use:</b> {html.escape(card.intended_use)}</p>"
        f"<table cellpadding=3>"
        f"<tr><td>Architecture</td><td>{html.escape(card.architecture)}</td></tr>"
        f"<tr><td>Weights sha256</td><td><code>{card.short_sha}</code>\u2026</td></tr>"
        f"<tr><td>Fracture threshold</td><td>{t.fracture:.3f}</td></tr>"
        f"<tr><td>Doubt threshold</td><td>{t.doubt:.3f}</td></tr>"
        f"<tr><td>Temperature</td><td>{card.temperature:.3f}</td></tr>"
        f"</table><h3>Test metrics</h3><table cellpadding=3>{metric_html}</table>"
    )


class TextDialog(QDialog):
    """A closable dialog showing rich text."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(560, 520)
        self.browser = QTextBrowser()
        self.browser.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def shortcuts_html(rows: list[tuple[str, str]]) -> str:
    """Keyboard rows from the window's actions plus the mouse gestures."""
    mouse = [
        ("Left drag", "Window / level (right: wider, down: darker)"),
        ("Left drag in measure mode", "Measure a distance"),
        ("Right, middle or Ctrl+left drag", "Pan"),
        ("Wheel", "Zoom toward the cursor"),
    ]
    body = "".join(
        f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>"
        for k, v in [*rows, *mouse]
    )
    return f"<h2>Shortcuts</h2><table cellpadding=3>{body}</table>"
