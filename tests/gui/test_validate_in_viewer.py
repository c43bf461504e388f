"""Analysis > Validate this folder: the model checked on the open folder's labelled images,
the result shown, its thresholds adopted as the site profile, from the viewer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gui_helpers import open_and_wait

from fracture_desktop.core.inference.card import load_card
from fracture_desktop.core.site_profile import load_profile

pytestmark = pytest.mark.gui

PER_CLASS = 29  # the card's threshold rule needs this many of each (core.metrics)


@pytest.fixture
def labelled_folder(tmp_path: Path, fracatlas_dir: Path) -> Path:
    folder = tmp_path / "site cases"
    for name in ("Fractured", "Non_fractured"):
        (folder / name).mkdir(parents=True)
        for jpeg in sorted((fracatlas_dir / "images" / name).glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(jpeg, folder / name / jpeg.name)
    return folder


def test_validating_the_open_folder_and_adopting_its_thresholds(
    qtbot, make_window, labelled_folder: Path, model_dir: Path
) -> None:
    window = make_window()  # the real engine, as the validation's child process uses
    open_and_wait(qtbot, window, labelled_folder)
    assert window.act_validate.isEnabled()
    window.act_validate.trigger()
    assert window.site.validating
    assert "Validating the model on site cases" in window.status.currentMessage()
    qtbot.waitUntil(lambda: not window.site.validating, timeout=300000)
    dialog = window.site.dialog
    assert dialog is not None and dialog.report is not None
    text = dialog.validation.text()
    assert f"{2 * PER_CLASS} images scored ({PER_CLASS} fractured, {PER_CLASS} other)" in text
    assert "ROC-AUC" in text and "Site fracture" in text
    assert list(labelled_folder.rglob("*.json")) == []  # nothing written among the images
    sha = load_card(model_dir).sha256
    assert load_profile(sha) is None  # offered, not adopted yet
    assert dialog.adopt_validation_button.isVisible()
    with qtbot.waitSignal(window.analysis.sig_model_state, timeout=20000):
        dialog.adopt_validation_button.click()
    profile = load_profile(sha)
    assert profile is not None and profile.n_images == 2 * PER_CLASS
    assert "site thresholds" in window.status.model_label.text()


def test_a_folder_without_label_folders_asks_for_a_labels_csv(
    qtbot, make_window, sample_folder: Path, tmp_path: Path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    labels = tmp_path / "labels.csv"
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *_a, **_k: (str(labels), ""))
    )
    window = make_window()
    open_and_wait(qtbot, window, sample_folder)
    labels.write_text("path,label\nMR_small.dcm,yes\n")  # a wrong label: refused, said why
    window.act_validate.trigger()
    qtbot.waitUntil(lambda: not window.site.validating, timeout=120000)
    notice = window.status.notices.notices[-1]
    assert notice.reason.startswith("Validation failed:") and "0 or 1" in notice.reason
    assert window.site.dialog is None

    labels.write_text("path,label\nxr/" + next((sample_folder / "xr").iterdir()).name + ",1\n"
                      "CT_small.dcm,0\n")  # fmt: skip
    window.act_validate.trigger()
    qtbot.waitUntil(lambda: not window.site.validating, timeout=300000)
    dialog = window.site.dialog
    assert dialog is not None
    assert "No site thresholds: too few cases" in dialog.validation.text()
    assert not dialog.adopt_validation_button.isVisible()  # nothing to adopt
