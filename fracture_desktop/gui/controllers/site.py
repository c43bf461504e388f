"""What the viewer says about where the model may be trusted: the folder shift warning above
the Findings, and the site profile whose thresholds flag the images (Analysis > Site
profile), and the validation of the open folder that proposes one (Analysis > Validate this
folder). See docs/REPORTS.md and docs/MODEL.md.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QWidget

from fracture_desktop.core.errors import ModelError
from fracture_desktop.core.findings import classify
from fracture_desktop.core.inference.domain import DomainCheck, load_domain_check
from fracture_desktop.core.jobs import CancelToken
from fracture_desktop.core.session import ReadingSession
from fracture_desktop.core.shift import findings_shift
from fracture_desktop.core.site_labels import has_label_folders
from fracture_desktop.core.site_profile import thresholds_in_use
from fracture_desktop.gui.bridge import Worker
from fracture_desktop.gui.controllers.analysis import AnalysisController
from fracture_desktop.gui.controllers.validation import run_validation
from fracture_desktop.gui.status import StatusArea
from fracture_desktop.gui.widgets.panels import FindingsPanel
from fracture_desktop.gui.widgets.site_profile_dialog import SiteProfileDialog

#: Shown above the findings of a model without a domain check.
NO_DOMAIN_CHECK_WARNING = (
    "This model has no domain check: images unlike its training images (another body part, "
    "not a radiograph) are not recognised and are flagged like any other."
)
#: Quiet time after the last finding before the folder shift test is run again.
SHIFT_DELAY_MS = 300


class SiteController(QObject):
    """Shift warning and site profiles for the open folder.

    Parameters
    ----------
    session : ReadingSession
        Whose findings are tested and re-flagged.
    analysis : AnalysisController
        The model in use.
    findings_panel : FindingsPanel
        Shows the warning above its list.
    worker : Worker
        Runs the validation of the open folder.
    status : StatusArea
        Says that a validation runs.
    parent : QWidget
        Owns the dialog.
    """

    def __init__(
        self,
        session: ReadingSession,
        analysis: AnalysisController,
        findings_panel: FindingsPanel,
        worker: Worker,
        status: StatusArea,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._session, self._analysis, self._panel = session, analysis, findings_panel
        self._worker, self._status, self._parent = worker, status, parent
        self._dialog: SiteProfileDialog | None = None
        self._cancel = CancelToken()
        self.validating = False
        self._domain_reference: tuple[str, DomainCheck | None] = ("", None)
        analysis.sig_finished.connect(lambda _cancelled: self.update_shift())
        # Findings restored from the results store (a reopened folder) carry their domain
        # scores: the folder's verdict is made again from them, once per burst.
        self._shift_timer = QTimer(self)
        self._shift_timer.setSingleShot(True)
        self._shift_timer.setInterval(SHIFT_DELAY_MS)
        self._shift_timer.timeout.connect(self.update_shift)
        session.events.finding.connect(lambda _finding: self._shift_timer.start())
        session.events.opened.connect(lambda _folder: self._panel.set_warning(""))

    def update_shift(self) -> None:
        """Show the folder shift warning above the findings when the analysed images depart
        from the model's validation images (:mod:`fracture_desktop.core.shift`)."""
        card, check = self._analysis.card, self._domain_check()
        if card is not None and not card.domain_file and self._session.findings:
            # Said where the flags are read, as on every report (docs/REPORTS.md).
            self._panel.set_warning(NO_DOMAIN_CHECK_WARNING)
            return
        shift = None
        if check is not None:
            findings = self._session.findings.values()
            shift = findings_shift(findings, check.val_scores, check.val_probabilities)
        self._panel.set_warning(shift.message if shift is not None else "")

    def _domain_check(self) -> DomainCheck | None:
        """The model's domain check (numpy only), read once per model; None without one."""
        card = self._analysis.card
        if card is None or not card.domain_file:
            return None
        if self._domain_reference[0] != card.sha256:
            try:
                check = load_domain_check(card.directory / card.domain_file, card.domain_sha256)
            except ModelError:
                check = None  # the engine refuses the model and says why
            self._domain_reference = (card.sha256, check)
        return self._domain_reference[1]

    @property
    def dialog(self) -> SiteProfileDialog | None:
        """The site profile dialog last opened (None before)."""
        return self._dialog

    def show_dialog(self) -> SiteProfileDialog | None:
        """Analysis > Site profile: see, adopt from a validation, or drop a profile."""
        card = self._analysis.card
        if card is None:
            return None
        if self._dialog is not None:
            self._dialog.deleteLater()
        self._dialog = SiteProfileDialog(card, self._parent)
        self._dialog.sig_changed.connect(self._on_profile_changed)
        self._dialog.open()
        return self._dialog

    def validate_folder(self) -> None:
        """Analysis > Validate this folder: check the model on the open folder's labelled
        images (its ``Fractured/`` and ``Non_fractured/`` folders, else a labels CSV the
        reader picks), then show the result in the site profile dialog, offering its
        thresholds. Runs ``fracture-desktop validate`` (see controllers/validation.py)."""
        folder, card = self._session.folder, self._analysis.card
        if folder is None or card is None or self.validating:
            return
        labels = None
        if not has_label_folders(folder):
            chosen, _ = QFileDialog.getOpenFileName(
                self._parent,
                "No Fractured/ and Non_fractured/ folders here: labels CSV (path,label)",
                str(folder),
                "Labels CSV (*.csv)",
            )
            if not chosen:
                return
            labels = Path(chosen)
        self._cancel = token = CancelToken()
        model_dir, device = card.directory, self._analysis.device
        self.validating = True
        self._status.showMessage(f"Validating the model on {folder.name or folder}\u2026", 0)

        def job() -> dict[str, Any]:
            try:
                return run_validation(folder, model_dir, device, labels, token)
            except BaseException:  # failed (said by the worker) or cancelled: over too
                self._worker.post(self._validation_over)
                raise

        self._worker.submit(job, self._on_validated)

    def cancel(self) -> None:
        """Stop a validation in progress (its child process is killed)."""
        self._cancel.cancel()

    def _validation_over(self) -> None:
        self.validating = False
        self._status.clearMessage()

    def _on_validated(self, report: dict[str, Any]) -> None:
        self._validation_over()
        if self._session.folder is None or self._analysis.card is None:
            return
        dialog = self.show_dialog()
        if dialog is not None:
            dialog.show_validation(report)

    def _on_profile_changed(self) -> None:
        """Reload the engine with the new thresholds and re-flag what is already scored."""
        card = self._analysis.card
        if card is None:
            return
        self._analysis.set_device(self._analysis.device)
        thresholds = thresholds_in_use(card)[0]
        for finding in list(self._session.findings.values()):
            if finding.probability is not None:
                flag = classify(finding.probability, thresholds, finding.domain_score)
                self._session.add_finding(replace(finding, flag=flag))
        self.update_shift()
