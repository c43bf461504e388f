"""The CSV report: stable columns, spreadsheet-safe encoding, de-identification."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from report_helpers import PATIENT, context, entries

from fracture_desktop.core.imaging.records import FileProblem
from fracture_desktop.core.report import COLUMNS, OutputExistsError, ReportEntry, write_csv


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_one_row_per_entry_with_documented_columns(tmp_path: Path) -> None:
    out = write_csv(entries(), tmp_path / "r.csv", context())
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8
    assert b"\r\n" in raw
    rows = read_rows(out)
    assert tuple(rows[0]) == COLUMNS
    assert [r["flag"] for r in rows] == ["fracture", "doubt", "no fracture", "not analysed"]
    first = rows[0]
    assert first["patient_name"] == PATIENT
    assert first["sop_instance_uid"] == first["image_identity"] == "1.2.3.4.5.6"
    assert first["probability"] == "0.9100"
    assert first["reader_decision"] == "confirmed"
    assert first["pixel_spacing_source"] == "Imager Pixel Spacing / magnification"
    assert (first["threshold_fracture"], first["threshold_doubt"]) == ("0.7000", "0.3000")
    assert (first["model_id"], first["model_version"]) == ("fracture_net-test", "9.9.9")
    assert (first["model_sha256_prefix"], first["app_version"]) == ("0123456789ab", "1.2.3")
    plain = rows[1]
    assert plain["image_identity"] == "sha256:abc"
    assert plain["study_instance_uid"] == ""  # a folder key is not a UID
    assert plain["pixel_spacing_source"] == "uncalibrated"
    assert "ends early" in plain["warnings"]
    # Boxes as JSON in stored-image pixels; none found: "[]"; not analysed: empty.
    assert json.loads(first["boxes"]) == [[10.0, 20.0, 30.5, 40.0, 0.91]]
    assert plain["boxes"] == "[]" and rows[3]["boxes"] == ""


def test_broken_file_carries_its_reason(tmp_path: Path) -> None:
    broken = read_rows(write_csv(entries(), tmp_path / "r.csv", context()))[-1]
    assert (broken["flag"], broken["error"]) == ("not analysed", "empty file")
    assert broken["probability"] == broken["pixel_spacing_source"] == ""
    assert broken["file_path"].endswith("=cmd.dcm")


def test_formula_cells_are_neutralised(tmp_path: Path) -> None:
    rows = entries()
    rows[0] = replace(rows[0], record=replace(rows[0].record, patient_name="=HYPERLINK(1)"))
    first = read_rows(write_csv(rows, tmp_path / "r.csv", context()))[0]
    assert first["patient_name"] == "'=HYPERLINK(1)"


def test_deidentified_csv_keeps_columns_but_no_patient(tmp_path: Path) -> None:
    out = write_csv(entries(), tmp_path / "r.csv", context(), deidentify=True)
    text = out.read_text(encoding="utf-8-sig")
    assert "Müller" not in text and "PID-77" not in text and "19500101" not in text
    assert tuple(read_rows(out)[0]) == COLUMNS


def test_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("precious", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        write_csv(entries(), out, context())
    assert out.read_text(encoding="utf-8") == "precious"
    write_csv(entries(), out, context(), overwrite=True)
    assert read_rows(out)[0]["flag"] == "fracture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]  # no temp file left


def test_file_names_that_are_not_utf8_are_written_as_escapes(tmp_path: Path) -> None:
    odd = Path(os.fsdecode(b"/data/study/patient_\xff\xfe_\xe9.dcm"))
    problem = ReportEntry.from_problem(FileProblem(odd, "empty file"))
    rows = read_rows(write_csv([*entries(), problem], tmp_path / "r.csv", context()))
    assert rows[-1]["file_path"] == r"/data/study/patient_\xff\xfe_\xe9.dcm"
    assert rows[0]["patient_name"] == PATIENT  # real non-ASCII text is kept as it is


def test_deidentified_csv_drops_values_quoted_in_messages(tmp_path: Path) -> None:
    warned = replace(entries()[1], warnings=("Invalid value for VR DA: 'Jones^Ann'",))
    failed = ReportEntry.from_problem(FileProblem(Path("x.dcm"), "invalid NumberOfFrames '1A'"))
    rows = read_rows(write_csv([warned, failed], tmp_path / "r.csv", context(), deidentify=True))
    assert rows[0]["warnings"] == "Invalid value for VR DA: [value removed]"
    assert rows[1]["error"] == "invalid NumberOfFrames [value removed]"
