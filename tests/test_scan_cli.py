"""``fracture-desktop scan``: real files, good and broken, an untrained model, both reports."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from fracture_desktop import cli
from fracture_desktop.batch import (
    EXIT_NO_MODEL,
    EXIT_NOTHING_ANALYSED,
    EXIT_OK,
    EXIT_USAGE,
    load_engine,
)
from fracture_desktop.core.decisions import Decision
from fracture_desktop.terminal import ProgressBar

DICOMS = ("CT_small.dcm", "MR_small.dcm")
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
GOOD_IMAGES = 5  # 3 FracAtlas JPEGs + 2 DICOMs
BROKEN = {"empty.dcm": "empty file", "notes.txt": "not an image"}


@pytest.fixture(scope="module")
def sample(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good JPEGs and DICOMs in two folders, plus an empty, a text and a truncated file."""
    jpegs = sorted((shared_dir / "datasets" / "fracatlas" / "images" / "Fractured").glob("*.jpg"))
    dicoms = shared_dir / "dicom" / "pydicom_3.0.2"
    if len(jpegs) < 3 or not (dicoms / DICOMS[0]).is_file():
        pytest.skip("FracAtlas images or pydicom test files missing from ../shared")
    root = tmp_path_factory.mktemp("study")
    (root / "sub").mkdir()
    for i, jpeg in enumerate(jpegs[:3]):
        shutil.copy(jpeg, root / ("sub" if i == 0 else ".") / jpeg.name)
    for name in DICOMS:
        shutil.copy(dicoms / name, root / name)
    (root / "empty.dcm").write_bytes(b"")
    (root / "notes.txt").write_text("not a radiograph\n", encoding="utf-8")
    data = (dicoms / "CT_small.dcm").read_bytes()
    (root / "truncated.dcm").write_bytes(data[: len(data) // 2])
    return root


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A decisions file of an earlier version: still read by --decisions.
    path = tmp_path_factory.mktemp("decisions") / "decisions.json"
    path.write_text(json.dumps({CT_SOP_UID: Decision.CONFIRMED.value}), encoding="utf-8")
    return path


def scan(sample: Path, model_dir: Path, decisions: Path, *extra: str) -> int:
    argv = ["scan", str(sample), "--model", str(model_dir), "--device", "cpu"]
    return cli.main([*argv, "--decisions", str(decisions), *extra])


@pytest.fixture(scope="module")
def reports(
    sample: Path, model_dir: Path, decisions: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("out")
    paths = {"csv": out / "r.csv", "pdf": out / "r.pdf", "deid": out / "deid.pdf"}
    assert (
        scan(sample, model_dir, decisions, "--csv", str(paths["csv"]), "--pdf", str(paths["pdf"]))
        == EXIT_OK
    )
    assert (
        scan(sample, model_dir, decisions, "--pdf", str(paths["deid"]), "--deidentify") == EXIT_OK
    )
    return paths


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_csv_has_a_row_per_file_and_reasons_for_broken_ones(
    reports: dict[str, Path], sample: Path
) -> None:
    rows = {Path(r["file_path"]).name: r for r in csv_rows(reports["csv"])}
    files = {p.name for p in sample.rglob("*") if p.is_file()}
    assert set(rows) == files
    analysed = [r for r in rows.values() if r["probability"]]
    assert len(analysed) == GOOD_IMAGES
    assert all(r["flag"] in ("fracture", "doubt", "no fracture") for r in analysed)
    assert all(r["model_id"] == "fracture_net-untrained" for r in rows.values())
    for name, reason in BROKEN.items():
        assert (rows[name]["flag"], rows[name]["error"]) == ("not analysed", reason)
    assert rows["truncated.dcm"]["flag"] == "not analysed"
    assert rows["truncated.dcm"]["error"]
    ct = rows["CT_small.dcm"]
    assert ct["sop_instance_uid"] == ct["image_identity"] == CT_SOP_UID
    assert ct["patient_name"] == "CompressedSamples^CT1"
    assert ct["reader_decision"] == "confirmed"
    assert ct["pixel_spacing_source"] == "Pixel Spacing"
    jpeg = next(r for n, r in rows.items() if n.endswith(".jpg"))
    assert jpeg["image_identity"].startswith("sha256:")


def test_pdf_lists_identities_and_counts(reports: dict[str, Path]) -> None:
    text = pdf_text(reports["pdf"])
    flat = " ".join(text.split())
    assert "fracture_net-untrained 0.0.0" in text
    assert CT_SOP_UID in flat
    assert "CompressedSamples CT1" in flat
    assert f"Total {GOOD_IMAGES + 3}" in flat
    assert "empty file" in text
    rows = csv_rows(reports["csv"])
    flagged = sum(r["flag"] in ("fracture", "doubt") for r in rows)
    images = sum(len(page.images) for page in PdfReader(reports["pdf"]).pages)
    assert images == 2 * flagged  # each flagged image beside its heatmap


def test_deidentified_pdf_names_no_patient(reports: dict[str, Path]) -> None:
    flat = " ".join(pdf_text(reports["deid"]).split())
    for secret in ("CompressedSamples", "1CT1", "4MR1"):
        assert secret not in flat
    assert CT_SOP_UID in flat


def test_existing_report_is_refused_then_replaced_on_request(
    reports: dict[str, Path], sample: Path, model_dir: Path, decisions: Path
) -> None:
    before = reports["csv"].read_bytes()
    assert scan(sample, model_dir, decisions, "--csv", str(reports["csv"])) == EXIT_USAGE
    assert reports["csv"].read_bytes() == before


def test_missing_folder_is_a_usage_error(tmp_path: Path, model_dir: Path) -> None:
    code = cli.main(["scan", str(tmp_path / "nope"), "--model", str(model_dir)])
    assert code == EXIT_USAGE


def test_bad_device_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["scan", str(tmp_path), "--device", "tpu"])
    assert exc.value.code == EXIT_USAGE


def test_missing_model_exits_non_zero_without_output(tmp_path: Path, sample: Path) -> None:
    out = tmp_path / "r.csv"
    code = cli.main(["scan", str(sample), "--model", str(tmp_path / "none"), "--csv", str(out)])
    assert code == EXIT_NO_MODEL
    assert not out.exists()


def test_model_folder_setting_is_honoured(
    sample: Path, model_dir: Path, decisions: Path, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "r.csv"
    argv = ["scan", str(sample), "--device", "cpu", "--decisions", str(decisions)]
    monkeypatch.setenv("FRACTURE_DESKTOP_MODEL_DIR", str(tmp_path / "none"))
    assert cli.main([*argv, "--csv", str(out)]) == EXIT_NO_MODEL
    monkeypatch.setenv("FRACTURE_DESKTOP_MODEL_DIR", str(model_dir))
    assert cli.main([*argv, "--csv", str(out)]) == EXIT_OK
    assert {r["model_id"] for r in csv_rows(out)} == {"fracture_net-untrained"}


def test_scan_scores_one_image_per_model_thread(shipped_model_dir: Path) -> None:
    argv = ["scan", "folder", "--model", str(shipped_model_dir), "--threads", "2"]
    engine = load_engine(cli.build_parser().parse_args(argv))
    assert engine.runtime.startswith("ONNX Runtime")
    assert engine.lanes == 2


def test_folder_without_images(tmp_path: Path, model_dir: Path, decisions: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert scan(empty, model_dir, decisions) == EXIT_NOTHING_ANALYSED
    (empty / "broken.dcm").write_bytes(b"")
    out = tmp_path / "r.csv"
    assert scan(empty, model_dir, decisions, "--csv", str(out)) == EXIT_NOTHING_ANALYSED
    assert csv_rows(out)[0]["error"] == "empty file"  # the report still says why


def test_subprocess_run_prints_summary_and_needs_no_display(
    sample: Path, model_dir: Path, decisions: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    out = tmp_path / "r.csv"
    argv = ["scan", str(sample), "--model", str(model_dir), "--device", "cpu"]
    argv += ["--decisions", str(decisions), "--csv", str(out)]
    code = (
        "import sys; from fracture_desktop import cli; rc = cli.main(sys.argv[1:]); "
        "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules); "
        "sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert "not analysed" in done.stdout and str(out) in done.stdout
    assert "Analysing" in done.stderr  # the progress bar goes to stderr
    assert len(csv_rows(out)) == GOOD_IMAGES + 3


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_bar_logs_every_tenth_without_a_terminal() -> None:
    stream = _Stream(tty=False)
    bar = ProgressBar("Analysing", "images", stream)
    for done in range(1, 201):
        bar(done, 200)
    bar(200, 200)  # a repeated final report prints nothing new
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11  # the first item, then every 10 %
    assert lines[-1].startswith("Analysing  [") and "200/200" in lines[-1]
    assert "\r" not in stream.getvalue()


def test_progress_bar_redraws_in_place_on_a_terminal() -> None:
    stream = _Stream(tty=True)
    bar = ProgressBar("Finding", "files", stream)
    bar(3, 3)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r") and "3/3" in text and text.endswith("\n")
