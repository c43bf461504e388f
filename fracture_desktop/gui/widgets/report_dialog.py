"""The File > Export report dialog: where the PDF, the CSV and the DICOM results go, and
whether to de-identify."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

#: Report kind -> (label, suffix, file dialog filter).
KINDS = {
    "pdf": ("PDF report", ".pdf", "PDF report (*.pdf)"),
    "csv": ("CSV table", ".csv", "CSV table (*.csv)"),
}


class ReportDialog(QDialog):
    """Choose the report files; each is chosen with a save dialog that confirms overwriting.

    Parameters
    ----------
    start : Path
        Folder the save dialogs open in.
    stem : str
        Suggested file name without suffix (e.g. the study folder's name).
    summary : str
        One line saying what will be exported.
    """

    def __init__(self, start: Path, stem: str, summary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export report")
        self._start = start
        self._stem = stem
        self.paths: dict[str, Path | None] = dict.fromkeys(KINDS)
        self.fields: dict[str, QLineEdit] = {}
        self.choose_buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for row, (kind, (label, _suffix, _filter)) in enumerate(KINDS.items()):
            field = QLineEdit()
            field.setReadOnly(True)
            field.setPlaceholderText("not written")
            button = QPushButton("Choose\u2026")
            button.clicked.connect(lambda _=False, k=kind: self.choose(k))
            grid.addWidget(QLabel(f"{label}:"), row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(button, row, 2)
            self.fields[kind] = field
            self.choose_buttons[kind] = button
        # DICOM results (SR, KOS, GSPS per study, docs/REPORTS.md) go to a folder.
        self.dicom_dir: Path | None = None
        self.dicom_field = QLineEdit()
        self.dicom_field.setReadOnly(True)
        self.dicom_field.setPlaceholderText("not written")
        self.dicom_button = QPushButton("Choose\u2026")
        self.dicom_button.clicked.connect(self.choose_dicom_dir)
        row = len(KINDS)
        grid.addWidget(QLabel("DICOM SR, KOS, GSPS:"), row, 0)
        grid.addWidget(self.dicom_field, row, 1)
        grid.addWidget(self.dicom_button, row, 2)
        self.deidentify = QCheckBox("De-identify (leave out patient name, ID, birth date)")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(summary))
        layout.addLayout(grid)
        layout.addWidget(self.deidentify)
        layout.addWidget(self.buttons)
        self.resize(560, 0)
        self._update()

    def choose(self, kind: str) -> None:
        """Ask where the ``kind`` report goes; the save dialog confirms an existing file."""
        label, suffix, name_filter = KINDS[kind]
        current = self.paths[kind] or self._start / f"{self._stem}{suffix}"
        chosen, _ = QFileDialog.getSaveFileName(self, label, str(current), name_filter)
        if not chosen:
            return
        path = Path(chosen)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
            # The save dialog confirmed the name as typed, not this one.
            if path.exists() and not self._confirm_replace(path):
                return
        self.paths[kind] = path
        self.fields[kind].setText(str(path))
        self._update()

    def choose_dicom_dir(self) -> None:
        """Ask for the folder the DICOM results go to (one sub-folder per study)."""
        start = self.dicom_dir or self._start
        chosen = QFileDialog.getExistingDirectory(self, "DICOM results folder", str(start))
        if chosen:
            self.dicom_dir = Path(chosen)
            self.dicom_field.setText(chosen)
            self._update()

    def _confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self, "Replace file?", f"{path.name} already exists. Replace it?"
        )
        return answer == QMessageBox.StandardButton.Yes

    def _update(self) -> None:
        chosen = [p for p in self.paths.values() if p is not None]
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        wanted = bool(chosen) or self.dicom_dir is not None
        ok.setEnabled(wanted and len(set(chosen)) == len(chosen))

    @property
    def folder(self) -> Path | None:
        """Where the chosen files go (the CSV's when they differ), to start from next time."""
        chosen = [p for p in self.paths.values() if p is not None]
        return chosen[-1].parent if chosen else None
