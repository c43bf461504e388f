"""Help dialogs: the model card and the list of shortcuts."""

from __future__ import annotations

import html
import importlib.metadata
import platform
from typing import Any

from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from fracture_desktop.core.inference.card import INTENDED_USE, ModelCard

#: Words for the model card's metric keys (core/metrics.py writes them).
METRIC_NAMES = {
    "overall": "whole test set",
    "subgroups": "",
    "operating_points": "",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "n": "images",
    "positives": "fractured images",
    "fracture": "at the fracture threshold",
    "doubt": "at the doubt threshold",
    "0.5": "at probability 0.5",
    "recall_sensitivity": "sensitivity",
    "tp": "true positives",
    "fp": "false positives",
    "tn": "true negatives",
    "fn": "false negatives",
    "f1": "F1 score",
    "speed_cpu_1_thread": "speed on one CPU thread",
    "forward_ms": "ms per image",
    "forward_with_heatmap_ms": "ms per image with heatmap",
}


def metric_name(key: str) -> str:
    """A card key in words: ``roc_auc`` -> ``ROC AUC``, ``region:hand`` -> ``hand``."""
    if key in METRIC_NAMES:
        return METRIC_NAMES[key]
    return key.split(":", 1)[-1].replace("_", " ")


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _metric_rows(metrics: Any, path: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The card's nested metrics as ``(name in words, value)`` rows; an estimate with its
    interval (``value``, ``low``, ``high``) is one row: ``0.824 (0.776-0.871)``."""
    name = " \u00b7 ".join(part for part in (metric_name(k) for k in path) if part)
    if isinstance(metrics, dict):
        if {"value", "low", "high"} <= set(metrics):
            interval = f"{_value(metrics['low'])}\u2013{_value(metrics['high'])}"
            return [(name, f"{_value(metrics['value'])} (95% CI {interval})")]
        rows: list[tuple[str, str]] = []
        for key, value in metrics.items():
            rows += _metric_rows(value, (*path, str(key)))
        return rows
    return [(name, _value(metrics))]


def model_card_html(card: ModelCard | None, unavailable: str) -> str:
    """What Help > Model shows: the card, or why there is no usable model."""
    if card is None:
        return (
            f"<h2>No model</h2><p>Analysis is unavailable: {html.escape(unavailable)}</p>"
            f"<p><b>{INTENDED_USE}</b></p>"
        )
    t = card.thresholds
    metrics = _metric_rows(card.metrics)
    metric_html = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in metrics
    ) or ("<tr><td colspan=2>No test metrics in this card.</td></tr>")
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


#: What the About box lists: the distribution names of what the viewer runs on.
COMPONENTS = (
    "fracture-desktop", "PySide6-Essentials", "pyqtgraph", "numpy", "pydicom", "pylibjpeg",
    "python-gdcm", "Pillow", "torch", "reportlab", "platformdirs",
)  # fmt: skip
DATA_NOTICE = (
    "Sample images (resources/samples): FracAtlas radiographs, CC BY 4.0 (Abedeen et al., "
    "Scientific Data 10, 521, 2023); DICOM test images from pydicom and NEMA WG04, MIT with "
    "BSD notices. The shipped models were trained on FracAtlas (CC BY 4.0)."
)


def _licence(name: str) -> str:
    """A distribution's licence in a few words, from its metadata."""
    meta = importlib.metadata.metadata(name)
    expression = meta.get("License-Expression")
    if expression:
        return expression
    licence = meta.get("License") or ""
    if licence and len(licence) < 60 and "\n" not in licence:
        return licence
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return classifiers[0].split(" :: ")[-1] if classifiers else "see its distribution"


def component_rows() -> list[tuple[str, str, str]]:
    """``(name, version, licence)`` of the app, Python, Qt and the libraries it uses."""
    rows = [("Python", platform.python_version(), "PSF-2.0"), ("Qt", qVersion(), "LGPL-3.0")]
    for name in COMPONENTS:
        try:
            rows.append((name, importlib.metadata.version(name), _licence(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed", ""))
    return rows


def about_html() -> str:
    """Help > About: what this is, the versions and licences it runs on."""
    body = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{html.escape(v)}</td><td>{html.escape(lic)}</td></tr>"
        for n, v, lic in component_rows()
    )
    return (
        "<h2>Fracture Desktop</h2>"
        f"<p>A radiograph viewer with a fracture model. <b>{INTENDED_USE}</b></p>"
        "<table cellpadding=3><tr><th align=left>Component</th><th align=left>Version</th>"
        f"<th align=left>Licence</th></tr>{body}</table>"
        f"<p>{html.escape(DATA_NOTICE)}</p>"
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
        ("Wheel", "Next / previous image (a setting in View swaps it with Ctrl+wheel)"),
        ("Ctrl+wheel", "Zoom toward the cursor"),
    ]
    body = "".join(
        f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>"
        for k, v in [*rows, *mouse]
    )
    return f"<h2>Shortcuts</h2><table cellpadding=3>{body}</table>"
