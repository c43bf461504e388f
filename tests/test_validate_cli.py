"""``fracture-desktop validate`` end to end on a small labelled folder, and site profiles in
``scan``."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from fracture_desktop import cli
from fracture_desktop.batch import EXIT_NO_MODEL, EXIT_OK
from fracture_desktop.core.inference.card import load_card
from fracture_desktop.core.site_labels import folder_label
from fracture_desktop.core.site_profile import load_profile, profile_path
from fracture_desktop.training.dataset import source_samples

PER_CLASS = 30  # one more than the card's rule needs to choose thresholds at all


@pytest.fixture(scope="module")
def labelled(fracatlas_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 fractured and 30 other FracAtlas test images, in folders named as a site might."""
    test = [s for s in source_samples(fracatlas_dir) if s.split == "test"]
    root = tmp_path_factory.mktemp("site")
    for label, name in ((1, "fractured"), (0, "Not Fractured")):
        (root / name).mkdir()
        for sample in [s for s in test if s.label == label][:PER_CLASS]:
            shutil.copy(sample.path, root / name / sample.image_id)
    (root / "unlabelled").mkdir()
    shutil.copy(test[-1].path, root / "unlabelled" / test[-1].image_id)
    return root


def validate(folder: Path, model_dir: Path, *extra: str) -> int:
    argv = ["validate", str(folder), "--model", str(model_dir), "--device", "cpu"]
    return cli.main([*argv, *extra])


def test_folder_names_label_images_in_any_case() -> None:
    assert [folder_label(n) for n in ("Fractured", "FRACTURED", "fractured")] == [1, 1, 1]
    names = ("Non_fractured", "not fractured", "Not_Fractured", "non-fractured")
    assert [folder_label(n) for n in names] == [0, 0, 0, 0]
    assert folder_label("unlabelled") is None


def test_validate_reports_adopts_and_scan_uses_the_profile(
    labelled: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, pdf = tmp_path / "validation.json", tmp_path / "validation.pdf"
    assert validate(labelled, model_dir, "--json", str(out), "--pdf", str(pdf), "--adopt") == 0
    printed = capsys.readouterr()
    assert "Validating" in printed.err  # the progress bar
    assert "ROC-AUC" in printed.out and "Adopted" in printed.out
    report = json.loads(out.read_text())
    assert (report["n_positive"], report["n_negative"], report["n_images"]) == (30, 30, 60)
    low, high = report["roc_auc_ci"]
    assert 0.0 <= low <= report["roc_auc"] <= high <= 1.0
    assert report["pr_auc"] is not None
    card = load_card(model_dir)
    assert report["model"]["sha256"] == card.sha256
    for name, value in (("fracture", card.thresholds.fracture), ("doubt", card.thresholds.doubt)):
        point = report["card_thresholds"][name]
        assert point["threshold"] == pytest.approx(value)
        assert 0.0 <= point["recall_sensitivity"] <= 1.0
    site = report["site_thresholds"]
    assert site["doubt"] <= site["fracture"]
    # The card's rule on these images: specificity >= 0.9 with 95% confidence.
    assert report["site_operating_points"]["fracture"]["specificity"] >= 0.9
    assert report["outside_domain_share"] == 0.0  # the untrained model has no domain check
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Site validation" in text and "Site thresholds" in text

    profile = load_profile(card.sha256)
    assert profile is not None and profile.n_images == 60
    assert (profile.thresholds.fracture, profile.thresholds.doubt) == (
        site["fracture"],
        site["doubt"],
    )

    def scan_rows(*extra: str) -> list[dict[str, str]]:
        target = tmp_path / "scan.csv"
        argv = ["scan", str(labelled), "--model", str(model_dir), "--device", "cpu"]
        assert cli.main([*argv, "--csv", str(target), "--overwrite", *extra]) == EXIT_OK
        with open(target, encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))

    rows = scan_rows()
    assert {r["thresholds_source"] for r in rows} == {profile.label}
    assert {r["threshold_fracture"] for r in rows} == {f"{site['fracture']:.4f}"}
    assert "Thresholds from the site profile" in capsys.readouterr().out
    rows = scan_rows("--card-thresholds")
    assert {r["thresholds_source"] for r in rows} == {"model card"}

    # A profile whose weights are not the model's is refused, not applied.
    path = profile_path(card.sha256)
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "model_sha256": "f" * 64}))
    argv = ["scan", str(labelled), "--model", str(model_dir), "--device", "cpu"]
    assert cli.main(argv) == EXIT_NO_MODEL
    assert "made for another model" in capsys.readouterr().err


def test_too_few_cases_give_no_site_thresholds_and_say_why(
    labelled: Path, model_dir: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.csv"
    chosen = (
        sorted((labelled / "fractured").iterdir())[:4]
        + sorted((labelled / "Not Fractured").iterdir())[:6]
    )
    rows = [f"{p.relative_to(labelled)},{int(p.parent.name == 'fractured')}" for p in chosen]
    labels.write_text("\n".join(["path,label", *rows]) + "\n")
    out = tmp_path / "v.json"
    assert validate(labelled, model_dir, "--labels", str(labels), "--json", str(out)) == 0
    report = json.loads(out.read_text())
    assert (report["n_positive"], report["n_negative"]) == (4, 6)
    assert report["site_thresholds"] is None
    assert "too few cases" in report["site_thresholds_reason"]
    assert cli.main(["validate", str(labelled), "--json", str(out)]) == 2  # exists already
