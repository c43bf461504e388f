"""Knowing when not to answer, in the viewer: images outside the domain, the folder shift
warning, and site profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gui_helpers import noise_folder, open_and_wait

from fracture_desktop.core.findings import CARD_THRESHOLDS, Flag, Thresholds
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.inference.card import ModelCard, load_card
from fracture_desktop.core.inference.engine import Prediction
from fracture_desktop.core.prepared import PreparedImage
from fracture_desktop.core.shift import MIN_FOLDER_SIZE
from fracture_desktop.core.site_profile import load_profile
from fracture_desktop.gui.widgets.browser import FILTERS
from fracture_desktop.gui.widgets.two_line import FLAG_TEXT_ROLE

pytestmark = pytest.mark.gui

OUTSIDE_FILTER = next(i for i, (label, _) in enumerate(FILTERS) if label == "Outside domain")


def test_ct_and_mr_slices_are_shown_outside_the_domain_with_their_probability_greyed(
    qtbot, make_window, sample_folder: Path, shipped_model_dir: Path
) -> None:
    window = make_window(model=shipped_model_dir)
    open_and_wait(qtbot, window, sample_folder)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=120000):
        window.act_analyse_folder.trigger()
    findings, records = window.session.findings, window.session.records
    outside = {p.name for p, f in findings.items() if f.flag is Flag.OUTSIDE_DOMAIN}
    assert {"CT_small.dcm", "MR_small.dcm"} <= outside
    record = next(r for r in records.values() if r.path.name == "CT_small.dcm")
    finding = findings[record.path]
    badge = window.browser.badge_text(record)
    assert badge.startswith("Outside domain (") and f"{finding.probability:.0%}" in badge
    window.browser.filter_box.setCurrentIndex(OUTSIDE_FILTER)
    assert {r.path.name for r in window.browser.visible_records()} == outside
    assert f"{len(outside)} outside domain" in window.browser.summary.text()
    panel = window.findings_panel
    row = next(i for i, r in enumerate(panel.ordered_records()) if r == record)
    name_item = panel.table.item(row, 0)
    assert name_item.data(FLAG_TEXT_ROLE) == badge
    assert "Outside the model's domain (score" in name_item.toolTip()
    # Six images are too few to test the folder as a whole: no warning.
    assert panel.warning.isHidden()
    assert "Thresholds: model card" in window.status.model_label.toolTip()


class OutsideEngine:
    """Every image far outside the domain, with a middling probability."""

    device = "cpu"
    runs_on = "cpu, fake"
    lanes = 1
    card: ModelCard | None = None  # the model folder's, set when built
    thresholds_source = CARD_THRESHOLDS

    @property
    def thresholds(self) -> Thresholds:
        assert self.card is not None
        return self.card.thresholds

    def warm_up(self) -> None:
        """Nothing to build."""

    def predict(self, image: LoadedImage, heatmap: bool | str = False) -> Prediction:
        return Prediction(0.6, Flag.OUTSIDE_DOMAIN, None, domain_score=4.0)

    def predict_prepared(self, prepared: PreparedImage, heatmap: bool | str = False) -> Prediction:
        return Prediction(0.6, Flag.OUTSIDE_DOMAIN, None, domain_score=4.0)


def test_a_shifted_folder_shows_the_warning_above_the_findings(
    qtbot, make_window, tmp_path: Path, shipped_model_dir: Path
) -> None:
    folder = noise_folder(tmp_path)
    window = make_window(model=shipped_model_dir, engine=OutsideEngine())
    open_and_wait(qtbot, window, folder)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=60000):
        window.act_analyse_folder.trigger()
    warning = window.findings_panel.warning
    assert not warning.isHidden()
    assert "validate it on local cases" in warning.text()
    assert f"{MIN_FOLDER_SIZE} of {MIN_FOLDER_SIZE} outside the domain" in warning.text()


def validation_report(sha256: str, model_id: str = "fracture_net-untrained") -> dict:
    return {
        "created": "2026-11-29T12:00:00+00:00",
        "folder": "/site/cases",
        "model": {"id": model_id, "version": "0.0.0", "sha256": sha256},
        "n_positive": 40,
        "n_negative": 60,
        "roc_auc": 0.81,
        "site_thresholds": {"fracture": 0.99, "doubt": 0.98},
    }


def test_site_profile_menu_adopts_refuses_and_drops(
    qtbot, make_window, sample_folder: Path, model_dir: Path, tmp_path: Path
) -> None:
    sha = load_card(model_dir).sha256
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=60000):
        window.act_analyse_folder.trigger()
    findings = window.session.findings
    assert any(f.flag.is_flagged for f in findings.values())
    window.act_site_profile.trigger()
    dialog = window.site.dialog
    assert dialog is not None
    assert "No site profile" in dialog.text.text()

    other = tmp_path / "other.json"
    other.write_text(json.dumps(validation_report("0" * 64, "someone-else")))
    assert not dialog.adopt(other)
    assert "another model" in dialog.message.text()
    assert load_profile(sha) is None

    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(validation_report(sha)))
    with qtbot.waitSignal(window.analysis.sig_model_state, timeout=20000):
        assert dialog.adopt(mine)
    assert "site profile 2026-11-29 (100 images)" in dialog.text.text()
    assert "site thresholds" in window.status.model_label.text()
    assert "Thresholds: site profile 2026-11-29" in window.status.model_label.toolTip()
    # The untrained model's probabilities sit near 0.5: under the site's 0.98 nothing is
    # flagged any more, without analysing again.
    assert not any(f.flag.is_flagged for f in findings.values())

    with qtbot.waitSignal(window.analysis.sig_model_state, timeout=20000):
        dialog.drop()
    assert load_profile(sha) is None
    assert "Thresholds: model card" in window.status.model_label.toolTip()
    assert any(f.flag.is_flagged for f in findings.values())
