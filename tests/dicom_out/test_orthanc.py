"""The PACS round trip: Orthanc sends radiographs to ``listen`` and gets SR, KOS, GSPS back.

Orthanc (Debian package ``orthanc``) runs from ``tests/orthanc/orthanc.json`` on free
localhost ports with its storage in a temporary folder; skipped where it is not installed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pydicom
import pytest

from tests.dicom_out.dicom_helpers import SAMPLES, Node
from tests.orthanc.orthanc import Orthanc, orthanc_binary

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"
KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
SOURCES = sorted((SAMPLES / "dicom").glob("*.dcm"))


@pytest.fixture
def orthanc(tmp_path: Path):
    if orthanc_binary() is None:
        pytest.skip("Orthanc is not installed (Debian package orthanc; .ci/run installs it)")
    server = Orthanc(tmp_path / "orthanc")
    yield server
    server.stop()


def _classes(orthanc: Orthanc, study: str) -> dict[str, list[pydicom.Dataset]]:
    """The instances Orthanc holds in ``study``, read whole, by SOP Class."""
    found: dict[str, list[pydicom.Dataset]] = {}
    for instance in orthanc.get(f"/studies/{study}/instances"):
        data = orthanc.get(f"/instances/{instance['ID']}/file")
        ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(data))
        found.setdefault(str(ds.SOPClassUID), []).append(ds)
    return found


def test_round_trip_results_file_into_the_source_study(orthanc, flagging_model, tmp_path):
    node = Node(
        tmp_path / "node",
        flagging_model,
        "--send-to",
        f"ORTHANC@127.0.0.1:{orthanc.dicom_port}",
        "--allow",
        "ORTHANC",
    )
    try:
        uploaded = {p: orthanc.upload(p) for p in SOURCES}
        orthanc.add_modality("fracture", "FRACTURE", node.port)
        job = {"Resources": [u["ID"] for u in uploaded.values()], "Synchronous": True}
        orthanc.post("/modalities/fracture/store", job)
        deadline = time.monotonic() + 180
        for path, answer in uploaded.items():
            source = pydicom.dcmread(path, stop_before_pixels=True)
            while True:
                found = _classes(orthanc, answer["ParentStudy"])
                if all(c in found for c in (SR_CLASS, KOS_CLASS, GSPS_CLASS)):
                    break
                assert time.monotonic() < deadline, f"no results back for {path.name}:\n{node.log}"
                time.sleep(1)
            (sr,) = found[SR_CLASS]
            assert sr.StudyInstanceUID == source.StudyInstanceUID
            assert sr.PatientID == source.PatientID
            evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
            assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == (
                source.SOPInstanceUID
            )
            (kos,) = found[KOS_CLASS]
            images = [i for i in kos.ContentSequence if i.ValueType == "IMAGE"]
            assert images[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == (
                source.SOPInstanceUID
            )
            (gsps,) = found[GSPS_CLASS]
            referenced = gsps.ReferencedSeriesSequence[0].ReferencedImageSequence[0]
            assert referenced.ReferencedSOPInstanceUID == source.SOPInstanceUID
    finally:
        assert node.stop() == 0
    assert "connection from ORTHANC" in node.log
    # Each study's SR, KOS and one GSPS (every image is flagged by this model).
    assert node.log.count("sent 3 of 3 results") == len(SOURCES)
