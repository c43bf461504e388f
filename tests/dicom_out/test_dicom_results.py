"""SR, KOS and GSPS written for the sample radiographs: content, references, dciodvfy."""

from __future__ import annotations

import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from fracture_desktop.core.dicom_out import codes as fd
from fracture_desktop.core.dicom_out.read_back import region_source
from fracture_desktop.core.dicom_out.write import NO_GSPS, write_dicom_results
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report.entries import ReportEntry
from tests.dicom_out.dicom_helpers import MODEL, SAMPLES

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"
KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"


def _objects(out: Path) -> dict[str, list[pydicom.Dataset]]:
    found: dict[str, list[pydicom.Dataset]] = {}
    for path in sorted(out.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        found.setdefault(str(ds.SOPClassUID), []).append(ds)
    return found


def test_one_sr_per_study_referencing_each_analysed_image(entries, tmp_path):
    result = write_dicom_results(entries, MODEL, tmp_path)
    objects = _objects(tmp_path)
    dicoms = [e for e in entries if e.record.sop_instance_uid]
    assert result.studies == len({e.record.study_uid for e in dicoms}) == 3
    assert result.referenced == 3 and result.plain == len(entries) - 3
    assert len(objects[SR_CLASS]) == 3
    assert SC_CLASS not in objects  # only on request
    for sr in objects[SR_CLASS]:
        source = next(e for e in dicoms if e.record.study_uid == sr.StudyInstanceUID)
        src = pydicom.dcmread(source.path, stop_before_pixels=True)
        # Patient and study copied, so the SR files into the source's study.
        assert sr.PatientID == src.PatientID and sr.PatientName == src.PatientName
        assert sr.StudyInstanceUID == src.StudyInstanceUID
        assert sr.SOPInstanceUID.startswith("2.25.") and sr.SeriesInstanceUID.startswith("2.25.")
        assert sr.Manufacturer == fd.MANUFACTURER
        report = hd.sr.ComprehensiveSR.from_dataset(sr).content
        (group,) = report.get_image_measurement_groups()
        assert group.source_images[0].referenced_sop_instance_uid == src.SOPInstanceUID
        (result_code,) = group.get_qualitative_evaluations(name=fd.TRIAGE_RESULT)
        assert fd.flag_of(result_code.value) is source.flag
        values = {m.name.meaning: float(m.value) for m in group.get_measurements()}
        assert values == {
            "Calibrated probability of fracture": 0.5,
            "Fracture threshold": 0.6,
            "Doubt threshold": 0.4,
        }
        rois = report.get_planar_roi_measurement_groups()
        # A box is drawn for flagged images only, as the viewer does.
        assert len(rois) == (1 if source.flag.is_flagged else 0)
        for roi in rois:
            assert region_source(roi.roi) == src.SOPInstanceUID
            points = np.asarray(roi.roi.value).reshape(-1, 2)
            assert points.min(axis=0).tolist() == [10.0, 20.0]
            assert points.max(axis=0).tolist() == [110.0, 220.0]
        # Evidence lists the source: a PACS can follow the reference.
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
        referenced = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
        assert referenced.ReferencedSOPInstanceUID == src.SOPInstanceUID


def _texts(ds: pydicom.Dataset) -> list[str]:
    """Every TEXT value of an SR content tree."""
    found = []
    for item in ds.get("ContentSequence", []):
        if item.ValueType == "TEXT":
            found.append(str(item.TextValue))
        found.extend(_texts(item))
    return found


def test_sr_names_the_algorithm_and_intended_use(entries, tmp_path):
    write_dicom_results(entries, MODEL, tmp_path)
    for sr in _objects(tmp_path)[SR_CLASS]:
        texts = _texts(sr)
        for expected in (
            MODEL.id,
            MODEL.version,
            "weights sha256 " + MODEL.sha256,
            "thresholds from the model card",
            "intended use: " + MODEL.intended_use,
        ):
            assert expected in texts


def test_kos_lists_flagged_images_and_gsps_draws_their_boxes(entries, tmp_path):
    write_dicom_results(entries, MODEL, tmp_path)
    objects = _objects(tmp_path)
    flagged = {e.record.sop_instance_uid for e in entries if e.is_flagged}
    assert len(flagged) == 2
    kos_refs = set()
    for kos in objects[KOS_CLASS]:
        for item in kos.ContentSequence:
            if item.ValueType == "IMAGE":
                kos_refs.add(item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    assert kos_refs == flagged
    gsps = objects[GSPS_CLASS]
    assert {g.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID
            for g in gsps} == flagged  # fmt: skip
    for g in gsps:
        annotation = g.GraphicAnnotationSequence[0]
        (box,) = annotation.GraphicObjectSequence
        assert box.GraphicAnnotationUnits == "PIXEL" and box.GraphicType == "POLYLINE"
        assert [float(v) for v in box.GraphicData[:4]] == [10.0, 20.0, 110.0, 20.0]
        texts = [t.UnformattedTextValue for t in annotation.TextObjectSequence]
        assert "0.71" in texts and any("not a diagnosis" in t for t in texts)
        assert "PixelData" not in g


def test_nothing_written_for_images_not_analysed(entries, tmp_path):
    first = entries[0]
    failed = Finding(first.path, "", Flag.NOT_ANALYSED, error="decoder crashed")
    entries[0] = ReportEntry(first.path, failed, first.record)
    result = write_dicom_results(entries, MODEL, tmp_path)
    assert result.studies == 2 and result.referenced == 2
    assert not (tmp_path / first.record.study_uid).exists()
    text = "\n".join(str(ds) for group in _objects(tmp_path).values() for ds in group)
    assert first.record.sop_instance_uid not in text


def test_deidentify_blanks_the_patient(entries, tmp_path):
    write_dicom_results(entries, MODEL, tmp_path, deidentify=True)
    for group in _objects(tmp_path).values():
        for ds in group:
            assert ds.PatientName == "" and ds.PatientID == "" and ds.PatientBirthDate == ""
            assert ds.PatientIdentityRemoved == "YES"
            assert "ReferringPhysicianName" not in ds or ds.ReferringPhysicianName == ""
            assert ds.StudyInstanceUID in {e.record.study_uid for e in entries}


def test_secondary_capture_on_request_is_labelled_derived(entries, tmp_path):
    write_dicom_results(entries, MODEL, tmp_path, capture=True)
    captures = _objects(tmp_path)[SC_CLASS]
    flagged = {e.record.sop_instance_uid: e for e in entries if e.is_flagged}
    assert len(captures) == len(flagged) == 2
    for sc in captures:
        source = flagged[sc.SourceImageSequence[0].ReferencedSOPInstanceUID]
        assert sc.StudyInstanceUID == source.record.study_uid
        assert list(sc.ImageType) == ["DERIVED", "SECONDARY"] and sc.BurnedInAnnotation == "YES"
        assert MODEL.id in sc.DerivationDescription
        pixels = sc.pixel_array
        assert pixels.shape == (source.record.rows, source.record.columns, 3)
        # The box is burnt in: its top edge (row 20, columns 10-110) is coloured.
        edge = pixels[20, 30:90].astype(int)
        assert (np.abs(edge[:, 0] - edge[:, 2]) > 50).all()


@pytest.mark.parametrize("deidentify", [False, True])
def test_dciodvfy_finds_no_errors(entries, tmp_path, dciodvfy, deidentify):
    result = write_dicom_results(entries, MODEL, tmp_path, deidentify=deidentify, capture=True)
    # SR per study, KOS per study and GSPS and SC per flagged image.
    assert len(result.written) == 3 + 2 + 2 + 2
    for path in result.written:
        errors, _ = dciodvfy(path)
        assert errors == [], path.name


def _flagged_entries(folder: Path) -> list[ReportEntry]:
    scan = scan_folder(folder)
    return [
        ReportEntry(r.path, Finding(r.path, r.sop_instance_uid, Flag.FRACTURE, 0.9), r)
        for r in scan.images
    ]


def test_odd_source_headers_are_still_referenced_without_errors(tmp_path, dciodvfy):
    """Real headers break rules highdicom enforces; the copy is repaired, the source kept."""
    ds = pydicom.dcmread(SAMPLES / "dicom" / "CR_hip_RG2_JPLY_fixed.dcm")
    del ds.Modality  # Type 1, missing
    with pytest.warns(UserWarning, match="Invalid value"):  # pydicom says so, and allows it
        ds.StudyDate = "2004.08.26"  # ACR-NEMA date form
    with pytest.warns(UserWarning, match="exceeds the maximum length"):
        ds.AccessionNumber = "A" * 30  # longer than SH allows
    ds.PatientSex = "0000"
    folder = tmp_path / "odd"
    folder.mkdir()
    ds.save_as(folder / "odd.dcm")
    out = tmp_path / "out"
    out.mkdir()
    result = write_dicom_results(_flagged_entries(folder), MODEL, out)
    assert result.referenced == 1 and result.problems == ()
    for path in result.written:
        assert dciodvfy(path)[0] == [], path.name
    sr = pydicom.dcmread(next(p for p in result.written if p.name.startswith("SR_")))
    assert sr.StudyDate == "" and sr.AccessionNumber == "" and sr.PatientSex == ""
    assert sr.PatientID == ds.PatientID  # valid values are copied as they are


def test_a_colour_image_is_referenced_without_a_grayscale_state(dicom_dir, tmp_path):
    folder = tmp_path / "colour"
    folder.mkdir()
    shutil.copy(dicom_dir / "pydicom_3.0.2" / "SC_rgb_small_odd.dcm", folder)
    out = tmp_path / "out"
    out.mkdir()
    result = write_dicom_results(_flagged_entries(folder), MODEL, out)
    assert result.referenced == 1
    assert {p.name[:2] for p in result.written} == {"SR", "KO"}
    (problem,) = result.problems
    assert problem.reason == NO_GSPS and "colour" in problem.details
