"""Our SR read back into findings without a model; other SRs listed, never misread."""

from __future__ import annotations

import shutil
from pathlib import Path

from fracture_desktop.core.dicom_out.read_back import ForeignReport, read_report, reported_findings
from fracture_desktop.core.dicom_out.write import write_dicom_results
from fracture_desktop.core.imaging.scan import SR_SKIPPED, reports_in, scan_folder
from tests.dicom_out.dicom_helpers import MODEL, foreign_sr


def _folder_with_results(entries, tmp_path: Path) -> Path:
    """The sample DICOMs and our results for them, in one folder as a PACS export holds."""
    folder = tmp_path / "study"
    folder.mkdir()
    for entry in entries:
        if entry.record.sop_instance_uid:
            shutil.copy(entry.path, folder / entry.path.name)
    write_dicom_results(entries, MODEL, folder / "results")
    return folder


def test_scan_lists_our_objects_as_documents_not_broken_images(entries, tmp_path):
    folder = _folder_with_results(entries, tmp_path)
    scan = scan_folder(folder)
    assert scan.problems == ()
    kinds = sorted(p.reason for p in scan.skipped)
    assert kinds.count(SR_SKIPPED) == 3
    assert any("key object selection" in k for k in kinds)
    assert any("presentation state" in k for k in kinds)
    assert len(reports_in(scan)) == 3


def test_findings_and_boxes_come_back_with_the_model_that_made_them(entries, tmp_path):
    folder = _folder_with_results(entries, tmp_path)
    scan = scan_folder(folder)
    read = reported_findings(scan.images, reports_in(scan))
    assert read.foreign == () and read.problems == ()
    expected = {e.record.sop_instance_uid: e.finding for e in entries if e.record.sop_instance_uid}
    assert len(read.findings) == len(scan.images) == 3
    for path, finding in read.findings.items():
        wrote = expected[finding.identity]
        assert finding.flag is wrote.flag and finding.probability == wrote.probability
        assert finding.drawn_boxes == wrote.drawn_boxes  # boxes of flagged images only
        model = read.made_by[path]
        assert (model.id, model.version, model.sha256) == (MODEL.id, MODEL.version, MODEL.sha256)
        assert model.intended_use == MODEL.intended_use
        assert model.thresholds_source == "model card"


def test_another_vendors_sr_is_listed_not_read(entries, tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    source = next(e.path for e in entries if e.record.sop_instance_uid)
    shutil.copy(source, folder / source.name)
    path = foreign_sr(source, folder)
    report = read_report(path)
    assert isinstance(report, ForeignReport) and report.manufacturer == "Other Vendor"
    scan = scan_folder(folder)
    read = reported_findings(scan.images, reports_in(scan))
    assert read.findings == {} and [f.path for f in read.foreign] == [path]
