"""Hostile source headers: every analysed image is referenced by objects dciodvfy accepts,
or gets none and the reason is given (docs/REPORTS.md, "Conformance").

Built from the sample radiographs with one fault each, as real archives hold them, and
from real files of pydicom's own test set (installed with pydicom).
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from fracture_desktop.core.dicom_out.codes import long_string
from fracture_desktop.core.dicom_out.sources import INVALID_UIDS, deidentified, uid_fault
from fracture_desktop.core.dicom_out.write import SAME_INSTANCE, write_dicom_results
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report.entries import ModelIdentity, ReportEntry
from tests.dicom_out.dicom_helpers import MODEL, SAMPLES

SOURCE = SAMPLES / "dicom" / "CR_hip_RG2_JPLY_fixed.dcm"
US_RETIRED = "1.2.840.10008.5.1.4.1.1.6"
#: Each kind of invalid UID dciodvfy reports as an error (PS3.5 9.1).
BAD_UIDS = {
    "leading_zero": "1.2.826.0.1.3680043.8.0498.1",
    "root_nine": "9.99.999.9999",
    "too_long": "1.2." + "1" * 63,
    "letters": "1.2.3a.4",
    "empty_component": "1.2..3",
}


def _variant(folder: Path, name: str, **values: object) -> Path:
    """The hip sample with ``values`` set (pydicom warns about the invalid ones: meant)."""
    ds = pydicom.dcmread(SOURCE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for keyword, value in values.items():
            if value is None:
                del ds[keyword]
            else:
                setattr(ds, keyword, value)
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.dcm"
        ds.save_as(path)
    return path


def _bytes_of(text: str) -> str:
    """``text`` in ISO 8859-5 bytes, as a header without Specific Character Set holds it
    (pydicom reads such bytes one character each)."""
    return text.encode("iso8859_5").decode("latin-1")


def _flagged(folder: Path) -> list[ReportEntry]:
    scan = scan_folder(folder)
    return [
        ReportEntry(r.path, Finding(r.path, r.sop_instance_uid, Flag.FRACTURE, 0.9), r)
        for r in scan.images
    ]


def _written(folder: Path, out: Path, model: ModelIdentity = MODEL):
    out.mkdir()
    return write_dicom_results(_flagged(folder), model, out, capture=True)


def _referenced(paths: list[Path]) -> dict[str, set[str]]:
    """SOP Instance UID -> the SOP Class UIDs its references carry, in the objects at
    ``paths``."""
    found: dict[str, set[str]] = {}

    def note(item: pydicom.Dataset, element: pydicom.DataElement) -> None:
        if element.keyword == "ReferencedSOPInstanceUID" and "ReferencedSOPClassUID" in item:
            found.setdefault(str(element.value), set()).add(str(item.ReferencedSOPClassUID))

    for path in paths:
        pydicom.dcmread(path).walk(note)
    return found


def _keywords(ds: pydicom.Dataset) -> set[str]:
    """Every keyword in ``ds``, sequences included."""
    found: set[str] = set()
    ds.walk(lambda item, element: found.add(element.keyword))
    return found


@pytest.mark.parametrize("kind", sorted(BAD_UIDS))
def test_uid_faults_are_those_dciodvfy_reports(kind, tmp_path, dciodvfy):
    uid = BAD_UIDS[kind]
    assert uid_fault(uid)
    source = _variant(tmp_path, kind, StudyInstanceUID=uid)
    errors, _ = dciodvfy(source)
    assert any("Study Instance UID" in e for e in errors), errors


def test_valid_uids_pass():
    for uid in ("1.2.840.10008.5.1.4.1.1.7", "2.25.329800735698586629295641978511506172918", "0.1"):
        assert uid_fault(uid) == ""


def test_images_with_invalid_uids_get_no_object_and_say_why(tmp_path, dciodvfy):
    """A reference must repeat the UID: it cannot be repaired, and copied it fails."""
    folder = tmp_path / "in"
    for kind, uid in BAD_UIDS.items():
        _variant(folder, kind, SOPInstanceUID=uid, StudyInstanceUID=f"1.2.3.{len(kind)}")
    _variant(folder, "no_study", StudyInstanceUID=None)
    _variant(folder, "good", SOPInstanceUID="1.2.3.4.5")
    result = _written(folder, tmp_path / "out")
    assert result.referenced == 1
    refused = {p.path.stem: p for p in result.problems if p.reason == INVALID_UIDS}
    assert set(refused) == {*BAD_UIDS, "no_study"}
    assert "SOPInstanceUID '9.99.999.9999' has a root" in refused["root_nine"].details
    assert "StudyInstanceUID missing" in refused["no_study"].details
    assert set(_referenced(list(result.written))) == {"1.2.3.4.5"}
    for path in result.written:
        assert dciodvfy(path)[0] == [], path.name


def test_copied_values_outside_their_vr_or_repertoire_are_left_out(tmp_path, dciodvfy):
    """Names in Cyrillic bytes without a Specific Character Set (as in a real Russian CR),
    two names where one is allowed, a time with nine fraction digits, a control character,
    an unknown character set: each would fail conformance in our objects."""
    folder = tmp_path / "in"
    _variant(
        folder,
        "cyrillic",
        PatientName=_bytes_of("Емельянова^Антонина"),
        InstitutionName=_bytes_of("Поликлиника 11"),
        AdmittingDiagnosesDescription=_bytes_of("Пневмония"),
    )
    ds = pydicom.dcmread(SOURCE)
    _variant(
        folder,
        "odd",
        SOPInstanceUID="1.2.3.4.6",
        PatientName=["ONE^NAME", "TWO^NAMES"],
        StudyTime="094836.214743984",
        ReferringPhysicianName="DOE^JOHN",
        Manufacturer="ACME\x07 Imaging",
        SpecificCharacterSet="ISO_IR 999",
        StudyID="S1",
    )
    result = _written(folder, tmp_path / "out")
    assert result.referenced == 2 and result.problems == ()
    for path in result.written:
        assert dciodvfy(path)[0] == [], path.name
    for path in result.written:
        made = pydicom.dcmread(path)
        assert made.PatientName == ""  # Type 2: present, empty
        assert "AdmittingDiagnosesDescription" not in made  # Type 3: left out
        assert "SpecificCharacterSet" not in made
        for equipment in made.get("ContributingEquipmentSequence", []):
            assert "InstitutionName" not in equipment
            assert "\x07" not in str(equipment.get("Manufacturer", ""))
        assert made.PatientID == ds.PatientID  # valid values are copied as they are
    odd = [pydicom.dcmread(p) for p in result.written if pydicom.dcmread(p).get("StudyID") == "S1"]
    assert odd and all(o.StudyTime == "" and o.ReferringPhysicianName == "DOE^JOHN" for o in odd)


def test_a_retired_or_private_sop_class_is_referenced_as_it_is(tmp_path, dciodvfy):
    """highdicom knows current SOP classes only; the references carry the source's own."""
    folder = tmp_path / "in"
    _variant(folder, "us_retired", SOPClassUID=US_RETIRED, Modality="US")
    private = "1.3.46.670589.7.99.1"
    _variant(folder, "private", SOPClassUID=private, SOPInstanceUID="1.2.3.4.7")
    result = _written(folder, tmp_path / "out")
    assert result.referenced == 2 and result.problems == ()
    sop = pydicom.dcmread(SOURCE).SOPInstanceUID
    assert _referenced(list(result.written)) == {sop: {US_RETIRED}, "1.2.3.4.7": {private}}
    for path in result.written:
        assert dciodvfy(path)[0] == [], path.name


def test_a_single_frame_class_stating_two_frames_is_referenced_without_a_frame(tmp_path, dciodvfy):
    """pydicom's SC_rgb_rle_32bit_2frame.dcm: a Secondary Capture (single-frame IOD) with
    Number of Frames 2; the reference is to the instance."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(get_testdata_file("SC_rgb_rle_32bit_2frame.dcm"), folder)
    result = _written(folder, tmp_path / "out")
    assert result.referenced == 1
    for path in result.written:
        assert "ReferencedFrameNumber" not in _keywords(pydicom.dcmread(path))
        assert dciodvfy(path)[0] == [], path.name


def test_a_segmentation_is_listed_not_analysed(tmp_path):
    """pydicom's liver_1frame.dcm: a segmentation labels another image's pixels."""
    shutil.copy(get_testdata_file("liver_1frame.dcm"), tmp_path)
    scan = scan_folder(tmp_path)
    assert not scan.images and not scan.problems
    (skipped,) = scan.skipped
    assert skipped.reason == "DICOM segmentation (SEG), not an image"


def test_one_reference_per_sop_instance(tmp_path, dciodvfy):
    """The same instance twice (a copy, another encoding): one group, the copy named."""
    folder = tmp_path / "in"
    first = _variant(folder, "a")
    shutil.copy(first, folder / "b.dcm")
    result = _written(folder, tmp_path / "out")
    assert result.referenced == 1
    (problem,) = result.problems
    assert problem.reason == SAME_INSTANCE and problem.path.name == "b.dcm"
    assert str(first) in problem.details
    for path in result.written:
        assert dciodvfy(path)[0] == [], path.name


def test_a_long_model_id_still_gets_its_presentation_state(tmp_path, dciodvfy):
    folder = tmp_path / "in"
    _variant(folder, "hip")
    model = replace(MODEL, id="site-model-with-a-rather-long-name-v12")
    result = _written(folder, tmp_path / "out", model)
    assert {p.name[:2] for p in result.written} == {"SR", "KO", "PR", "SC"}
    for path in result.written:
        assert dciodvfy(path)[0] == [], path.name
    assert len(long_string("x" * 80)) == 64


def test_a_palette_colour_image_is_referenced(tmp_path, dciodvfy):
    """pydicom's examples_palette.dcm: its LUT Descriptors, once read, cannot be pickled
    back from the guard's worker; the header is vetted outside it."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(get_testdata_file("examples_palette.dcm"), folder)
    result = _written(folder, tmp_path / "out")
    assert result.referenced == 1
    assert all(p.reason != "file is damaged (AttributeError)" for p in result.problems)
    for path in result.written:
        assert dciodvfy(path)[0] == [], path.name


def test_deidentified_headers_name_no_staff_and_keep_patient_characteristics() -> None:
    # A real CT header carries staff names in its Study module; PS3.15 Table E.1-1 removes
    # them, while the patient's characteristics are what the report is about.
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    source.NameOfPhysiciansReadingStudy = "Reader^Rita"
    source.OperatorsName = "Tech^Tom"
    source.PatientWeight = "81.6"
    copy = deidentified(source)
    for keyword in ("NameOfPhysiciansReadingStudy", "OperatorsName", "PatientAddress"):
        assert keyword not in copy
    assert copy.PatientName == "" and copy.PatientID == ""
    assert copy.PatientWeight == source.PatientWeight and copy.PatientSex == source.PatientSex
    assert source.OperatorsName == "Tech^Tom"  # the source itself is left as it was


def test_a_voi_lut_read_as_numbers_gets_its_presentation_state(tmp_path, dicom_dir, dciodvfy):
    """vlut_04.dcm: highdicom cannot copy a VOI LUT whose data pydicom reads as a list of
    numbers; the state carries the table as the viewer reads it."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(dicom_dir / "pydicom-data_1.0.0" / "vlut_04.dcm", folder)
    result = _written(folder, tmp_path / "out")
    assert not result.problems
    (state,) = [p for p in result.written if p.name.startswith("PR")]
    assert dciodvfy(state)[0] == []
    source = pydicom.dcmread(folder / "vlut_04.dcm")
    (lut,) = pydicom.dcmread(state).SoftcopyVOILUTSequence[0].VOILUTSequence
    assert [int(v) for v in lut.LUTDescriptor][:2] == [
        int(v) for v in source.VOILUTSequence[0].LUTDescriptor
    ][:2]


def test_an_enhanced_image_without_functional_groups_says_why_it_has_no_state(tmp_path, dicom_dir):
    """emri_small.dcm (Enhanced MR without its functional groups, no window): the viewer
    windows it from its pixels; a state built from the header cannot, and says so."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(dicom_dir / "pydicom-data_1.0.0" / "emri_small.dcm", folder)
    result = _written(folder, tmp_path / "out")
    assert result.referenced == 1
    (problem,) = result.problems
    assert problem.details.startswith("its header states no window and no VOI LUT")
    assert not any(p.name.startswith("PR") for p in result.written)


def test_an_enhanced_image_without_functional_groups_keeps_its_own_window(
    tmp_path, dicom_dir, dciodvfy
):
    """emri_small.dcm given a window at the top level: highdicom looks for it in the
    functional groups only; the state carries the window the viewer shows."""
    folder = tmp_path / "in"
    folder.mkdir()
    ds = pydicom.dcmread(dicom_dir / "pydicom-data_1.0.0" / "emri_small.dcm")
    ds.WindowCenter, ds.WindowWidth = 300, 600
    ds.WindowCenterWidthExplanation = "SOFT"
    ds.save_as(folder / "emri_window.dcm")
    result = _written(folder, tmp_path / "out")
    assert not result.problems
    (state,) = [p for p in result.written if p.name.startswith("PR")]
    voi = pydicom.dcmread(state).SoftcopyVOILUTSequence[0]
    assert (float(voi.WindowCenter), float(voi.WindowWidth)) == (300.0, 600.0)
    assert voi.WindowCenterWidthExplanation == "SOFT"
    assert dciodvfy(state)[0] == []
