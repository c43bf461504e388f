"""Folder scans: a mixed folder lists every image and every problem and stays untouched."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from fracture_desktop.core.imaging.guard import default_guard, guarded_image
from fracture_desktop.core.imaging.identity import image_identity
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord, SourceKind
from fracture_desktop.core.imaging.scan import SR_SKIPPED, prefetch_first_image, scan_folder
from fracture_desktop.core.jobs import Cancelled, CancelToken


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (links not followed), keyed by relative path."""
    found = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def mixed(dicom_dir: Path, shared_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    (root / "cr" / "deeper").mkdir(parents=True)
    (root / "photos").mkdir()
    (root / ".hidden").mkdir()
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/dicomdirtests/77654033/CR1/6154", root / "cr" / "a")
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/CT_small.dcm", root / "cr" / "deeper" / "B.DCM")
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/MR_small_RLE.dcm", root / "cr" / "c.ima")
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/MR_truncated.dcm", root / "cr" / "cut.dcm")
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/test-SR.dcm", root / "report.dcm")
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/dicomdirtests/DICOMDIR", root / "DICOMDIR")
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/CT_small.dcm", root / ".hidden" / "x.dcm")
    shutil.copyfile(dicom_dir / "pydicom_3.0.2/CT_small.dcm", root / ".dotfile.dcm")
    shutil.copyfile(
        shared_dir / "datasets/fracatlas/images/Fractured/IMG0000025.jpg", root / "photos" / "f.jpg"
    )
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(root / "photos" / "p.dcm", format="PNG")
    (root / "notes.txt").write_text("not an image\n")
    (root / "empty.dcm").write_bytes(b"")
    (root / "zipped.dcm").write_bytes(gzip.compress(b"DICM" * 100))
    os.symlink(root, root / "cr" / "loop")  # a link back up the tree
    return root


GOOD = {"cr/a", "cr/deeper/B.DCM", "cr/c.ima", "photos/f.jpg", "photos/p.dcm"}
BAD = {
    "cr/cut.dcm": "pixel data ends early",
    "notes.txt": "not an image",
    "empty.dcm": "empty file",
    "zipped.dcm": "not a DICOM file",
}


def test_mixed_folder(mixed: Path) -> None:
    before = snapshot(mixed)
    streamed: list[ImageRecord] = []
    reported: list[FileProblem] = []
    ticks: list[tuple[int, int]] = []
    result = scan_folder(
        mixed,
        on_record=streamed.append,
        on_problem=reported.append,
        progress=lambda done, total: ticks.append((done, total)),
    )
    assert snapshot(mixed) == before, "a scan must never change a file"
    top = {".hidden", ".dotfile.dcm", "cr", "photos", "report.dcm", "DICOMDIR", "notes.txt"}
    assert set(os.listdir(mixed)) == top | {"empty.dcm", "zipped.dcm"}, "nothing added"
    rel = {str(r.path.relative_to(mixed)) for r in result.images}
    assert rel == GOOD
    assert {str(r.path.relative_to(mixed)) for r in streamed} == GOOD
    problems = {str(p.path.relative_to(mixed)): p.reason for p in result.problems}
    assert problems == BAD
    assert reported == list(result.problems)
    # A structured report is a document of the study, listed as such (docs/REPORTS.md).
    skipped = {p.path.name: p.reason for p in result.skipped}
    assert skipped.keys() == {"DICOMDIR", "report.dcm"}
    assert skipped["report.dcm"] == SR_SKIPPED
    assert ticks[-1][0] == ticks[-1][1] == len(GOOD) + len(BAD) + 2
    plain = {r.path.name: r for r in result.images if r.kind is SourceKind.PLAIN}
    assert plain["f.jpg"].study_uid == "folder:photos"
    assert plain["p.dcm"].rows == 4 and plain["p.dcm"].columns == 6


def test_images_sort_by_instance_number_then_path(dicom_dir: Path, tmp_path: Path) -> None:
    ds = pydicom.dcmread(dicom_dir / "pydicom_3.0.2/CT_small.dcm")
    for name, number in [("a", 10), ("b", 2), ("c", 1), ("d", None)]:
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        if number is None:
            del ds.InstanceNumber
        else:
            ds.InstanceNumber = number
        ds.save_as(tmp_path / name)
    result = scan_folder(tmp_path)
    assert [r.path.name for r in result.images] == ["c", "b", "a", "d"]
    assert len(result.patients) == 1 and len(result.patients[0].studies) == 1


def test_cancel_stops_the_scan(mixed: Path) -> None:
    token = CancelToken()
    with pytest.raises(Cancelled):
        scan_folder(mixed, on_record=lambda _r: token.cancel(), cancel=token)


def test_the_first_image_a_viewer_shows_is_decoded_ahead(mixed: Path) -> None:
    found: list[ImageRecord] = []
    scan_folder(mixed, on_record=found.append)
    prefetch_first_image(mixed)
    ahead = {p.fn.__name__: p for p in default_guard()._prefetched if p.path.is_relative_to(mixed)}
    assert set(ahead) == {"_each", "_load_image"}  # the first headers, the first pixels
    assert (ahead["_load_image"].path, ahead["_load_image"].args) == (found[0].path, (0,))
    assert found[0].path == mixed / "cr" / "a"  # after the DICOMDIR, which is no image
    image = guarded_image(found[0].path)
    assert np.array_equal(image.values, ahead["_load_image"].result.result().values)
    assert scan_folder(mixed) == scan_folder(mixed, keep=True)


def test_image_identity(mixed: Path) -> None:
    result = scan_folder(mixed)
    by_name = {r.path.name: r for r in result.images}
    dicom = by_name["a"]
    assert image_identity(dicom) == dicom.sop_instance_uid != ""
    photo = by_name["f.jpg"]
    digest = hashlib.sha256(photo.path.read_bytes()).hexdigest()
    assert image_identity(photo) == "sha256:" + digest


def test_scan_of_shared_dicom_finds_known_problems(dicom_dir: Path) -> None:
    result = scan_folder(dicom_dir)
    reasons = {p.path.name: p.reason for p in result.problems}
    assert reasons["emri_small_jpeg_2k_lossless_too_short.dcm"] == "JPEG 2000 data ends early"
    skipped = {p.path.name: p.reason for p in result.skipped}
    assert skipped.keys() == {
        "DICOMDIR",
        "DICOMDIR-bigEnd",
        "DICOMDIR-empty.dcm",
        "test-SR.dcm",
        "no-pixel-data.dcm",  # a Basic Text SR
        "liver_1frame.dcm",  # segmentations, whatever their transfer syntax
        "liver_deflate.dcm",
    }
    assert skipped["test-SR.dcm"] == skipped["no-pixel-data.dcm"] == SR_SKIPPED
    assert skipped["liver_deflate.dcm"] == "DICOM segmentation (SEG), not an image"
    assert len(result.images) > 140


# Only the reference reads (plain pydicom) may warn about odd values; the scan stays quiet.
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_scan_header_values_equal_pydicom(dicom_dir: Path) -> None:
    """The scan decodes simple values from raw bytes; pydicom's conversion is the reference."""

    def text(ds: pydicom.Dataset, keyword: str) -> str:
        value = ds.get(keyword)
        return "" if value is None else str(value).strip()

    def number(ds: pydicom.Dataset, keyword: str) -> int | None:
        try:
            return int(ds.get(keyword))
        except (TypeError, ValueError):  # absent, empty or not a number ("1A")
            return None

    images = scan_folder(dicom_dir).images
    assert len(images) > 140
    for record in images:
        ds = pydicom.dcmread(record.path, stop_before_pixels=True, force=True)
        expected = {
            "rows": number(ds, "Rows"),
            "columns": number(ds, "Columns"),
            "frames": max(1, number(ds, "NumberOfFrames") or 1),
            "patient_name": text(ds, "PatientName"),
            "patient_id": text(ds, "PatientID"),
            "patient_birth_date": text(ds, "PatientBirthDate"),
            "study_date": text(ds, "StudyDate"),
            "series_description": text(ds, "SeriesDescription"),
            "series_number": number(ds, "SeriesNumber"),
            "sop_instance_uid": text(ds, "SOPInstanceUID"),
            "instance_number": number(ds, "InstanceNumber"),
            "acquisition_time": text(ds, "AcquisitionTime") or text(ds, "ContentTime"),
            "modality": text(ds, "Modality"),
            "body_part": text(ds, "BodyPartExamined"),
            "view_position": text(ds, "ViewPosition"),
            "photometric": text(ds, "PhotometricInterpretation"),
        }
        found = {key: getattr(record, key) for key in expected}
        assert found == expected, record.path
