"""``scan --dicom-out``: the sample folder triaged headless, its DICOM results on disk."""

from __future__ import annotations

import pydicom

from fracture_desktop import cli
from fracture_desktop.batch import EXIT_OK, EXIT_USAGE

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"


def test_scan_writes_an_sr_per_dicom_study(samples, model_dir, tmp_path, capsys, dciodvfy):
    out = tmp_path / "dicom"
    out.mkdir()
    csv = tmp_path / "report.csv"
    argv = ["scan", str(samples), "--model", str(model_dir), "--device", "cpu"]
    code = cli.main([*argv, "--csv", str(csv), "--dicom-out", str(out)])
    summary = capsys.readouterr().out
    assert code == EXIT_OK
    written = sorted(out.rglob("*.dcm"))
    srs = [p for p in written if pydicom.dcmread(p).SOPClassUID == SR_CLASS]
    # Three CR studies; the four FracAtlas JPEGs have no SOP instance to reference.
    assert len(srs) == 3
    assert "3 images referenced" in summary
    assert "4 JPEG/PNG/TIFF/BMP images have no SOP instance" in summary
    for path in written:
        assert dciodvfy(path)[0] == [], path.name


def test_scan_refuses_a_missing_dicom_folder(samples, model_dir, tmp_path, capsys):
    argv = ["scan", str(samples), "--model", str(model_dir), "--device", "cpu"]
    code = cli.main([*argv, "--dicom-out", str(tmp_path / "missing")])
    assert code == EXIT_USAGE
    assert "not an existing folder" in capsys.readouterr().err
