"""Analysis > Site profile: see the thresholds in use, adopt a validation's (a JSON file, or
the validation of the open folder just run), or drop them."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fracture_desktop.core.inference.card import ModelCard
from fracture_desktop.core.site_profile import (
    SiteProfileError,
    drop_profile,
    load_profile,
    profile_from_validation,
    save_profile,
)


def profile_html(card: ModelCard) -> str:
    """The thresholds the model flags with, and where they come from."""
    try:
        profile = load_profile(card.sha256)
    except SiteProfileError as exc:
        return f"<p style='color:#ff8a80'>{html.escape(exc.reason)}</p>"
    t = card.thresholds
    text = (
        f"<p><b>Model</b> {html.escape(card.label)}</p>"
        f"<p><b>Card thresholds</b> (FracAtlas val): fracture {t.fracture:.3f}, "
        f"doubt {t.doubt:.3f}</p>"
    )
    if profile is None:
        return text + "<p>No site profile: flags use the card's thresholds.</p>"
    s = profile.thresholds
    return text + (
        f"<p><b>In use: {html.escape(profile.label)}</b>, validated on "
        f"{profile.n_positive} fractured and {profile.n_negative} other images of "
        f"{html.escape(profile.source)}; ROC-AUC {profile.roc_auc:.3f}; "
        f"fracture {s.fracture:.3f}, doubt {s.doubt:.3f}</p>"
    )


def validation_html(report: dict[str, Any]) -> str:
    """What a validation of the open folder found (``validate --json``'s report)."""
    text = (
        f"<p><b>Validation of {html.escape(Path(str(report.get('folder', ''))).name)}</b>: "
        f"{report['n_images']} images scored ({report['n_positive']} fractured, "
        f"{report['n_negative']} other), {report.get('n_not_analysed', 0)} not analysed, "
        f"{report.get('n_outside_domain', 0)} outside the model's domain.</p>"
    )
    if report.get("roc_auc") is not None:
        low, high = report["roc_auc_ci"]
        text += f"<p>ROC-AUC {report['roc_auc']:.3f} (95% CI {low:.3f}-{high:.3f})</p>"
    for name, point in report.get("card_thresholds", {}).items():
        text += _point_html(f"Card {name}", point)
    site = report.get("site_thresholds")
    if site:
        for name, point in report.get("site_operating_points", {}).items():
            text += _point_html(f"Site {name}", point)
    else:
        reason = html.escape(str(report.get("site_thresholds_reason", "")))
        text += f"<p>No site thresholds: {reason}</p>"
    shift = report.get("shift")
    if shift and shift.get("shift_warning"):
        text += f"<p style='color:#ffb74d'>{html.escape(shift['shift_message'])}</p>"
    return text


def _point_html(name: str, point: dict[str, Any]) -> str:
    def rate(key: str) -> str:
        value = point.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    return (
        f"<p>{html.escape(name)} {point['threshold']:.3f}: sensitivity "
        f"{rate('recall_sensitivity')}, specificity {rate('specificity')}</p>"
    )


class SiteProfileDialog(QDialog):
    """Shows the profile of the loaded model; adopts one from a ``validate`` JSON or drops it."""

    sig_changed = Signal()

    def __init__(self, card: ModelCard, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card = card
        self.setWindowTitle("Site profile")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.message = QLabel("")
        self.message.setObjectName("notice")
        self.message.setWordWrap(True)
        # Details hold sha256s and paths, words too long to wrap in a label: a box that
        # wraps anywhere shows them whole at any dialog width.
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.details.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.details.setMaximumHeight(5 * self.details.fontMetrics().lineSpacing())
        self.details.setVisible(False)
        # A validation of the open folder (Analysis > Validate this folder), when one ran.
        self.validation = QLabel("")
        self.validation.setWordWrap(True)
        self.validation.setVisible(False)
        self.adopt_validation_button = QPushButton("Adopt these thresholds")
        self.adopt_validation_button.setVisible(False)
        self.report: dict[str, Any] | None = None
        self.adopt_button = QPushButton("Adopt from a validation\u2026")
        self.drop_button = QPushButton("Drop profile")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.adopt_validation_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.adopt_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.drop_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.validation)
        layout.addWidget(self.message)
        layout.addWidget(self.details)
        layout.addWidget(buttons)
        self.adopt_button.clicked.connect(self._choose)
        self.drop_button.clicked.connect(self.drop)
        self.adopt_validation_button.clicked.connect(
            lambda: self.report is not None and self.adopt_report(self.report)
        )
        self._refresh()

    def _refresh(self) -> None:
        self.text.setText(profile_html(self.card))

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Validation report", "", "Validation JSON (*.json)"
        )
        if path:
            self.adopt(Path(path))

    def show_validation(self, report: dict[str, Any]) -> None:
        """Show a validation of the open folder, offering its thresholds when it chose some."""
        self.report = report
        self.validation.setText(validation_html(report))
        self.validation.setVisible(True)
        self.adopt_validation_button.setVisible(bool(report.get("site_thresholds")))

    def adopt(self, path: Path) -> bool:
        """Adopt the site thresholds of the validation report at ``path``; say why not."""
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self._say(f"Cannot read {path.name}", str(exc))
            return False
        return self.adopt_report(report)

    def adopt_report(self, report: dict[str, Any]) -> bool:
        """Adopt the site thresholds a validation report chose; say why not."""
        try:
            save_profile(profile_from_validation(report, self.card.sha256))
        except SiteProfileError as exc:
            self._say(exc.reason[:1].upper() + exc.reason[1:] + ".", exc.details)
            return False
        self._say("")
        self._refresh()
        self.sig_changed.emit()
        return True

    def _say(self, reason: str, details: str = "") -> None:
        """Why the last action failed, and its details below (none: both hidden)."""
        self.message.setText(reason)
        self.details.setPlainText(details)
        self.details.setVisible(bool(details))

    def drop(self) -> None:
        if drop_profile(self.card.sha256):
            self._refresh()
            self.sig_changed.emit()
