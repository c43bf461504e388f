"""Analysis > Site profile: see the thresholds in use, adopt a validation's, or drop them."""

from __future__ import annotations

import html
import json
from pathlib import Path

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
        self.adopt_button = QPushButton("Adopt from a validation\u2026")
        self.drop_button = QPushButton("Drop profile")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.adopt_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.drop_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.message)
        layout.addWidget(self.details)
        layout.addWidget(buttons)
        self.adopt_button.clicked.connect(self._choose)
        self.drop_button.clicked.connect(self.drop)
        self._refresh()

    def _refresh(self) -> None:
        self.text.setText(profile_html(self.card))

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Validation report", "", "Validation JSON (*.json)"
        )
        if path:
            self.adopt(Path(path))

    def adopt(self, path: Path) -> bool:
        """Adopt the site thresholds of the validation report at ``path``; say why not."""
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            save_profile(profile_from_validation(report, self.card.sha256))
        except (OSError, ValueError) as exc:
            self._say(f"Cannot read {path.name}", str(exc))
            return False
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
