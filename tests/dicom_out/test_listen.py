"""``fracture-desktop listen``: a real node in a subprocess, driven by a pynetdicom SCU."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pydicom
import pytest
from pynetdicom import AE

from fracture_desktop.core.node.receiver import OUT_OF_RESOURCES, SUCCESS
from tests.dicom_out.dicom_helpers import SAMPLES, Node

CR = "1.2.840.10008.5.1.4.1.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
SMALL = SAMPLES / "dicom" / "CR_hip_RG2_JPLY_fixed.dcm"  # 0.2 MB
LARGE = SAMPLES / "dicom" / "CR_chest_RG1_J2KR.dcm"  # 4.3 MB: above --max-mb 1
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"


@pytest.fixture(scope="module")
def node(flagging_model: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("node")
    running = Node(out, flagging_model, "--allow", "TESTSCU", "--max-mb", "1")
    yield running
    running.stop()


def _associate(node: Node, calling: str = "TESTSCU", contexts: tuple[str, ...] = (CR,)):
    ae = AE(ae_title=calling)
    syntaxes = [pydicom.dcmread(p).file_meta.TransferSyntaxUID for p in (SMALL, LARGE)]
    for uid in contexts:
        for syntax in syntaxes:  # one context each: an SCP accepts one syntax per context
            ae.add_requested_context(uid, syntax)
    return ae.associate("127.0.0.1", node.port, ae_title="FRACTURE")


def _store(node: Node, path: Path) -> int:
    assoc = _associate(node)
    assert assoc.is_established
    try:
        return int(assoc.send_c_store(pydicom.dcmread(path)).Status)
    finally:
        assoc.release()


def _results(node: Node, study: str) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in sorted((node.out / "results" / study).glob("*.dcm")):
        found.setdefault(str(pydicom.dcmread(path).SOPClassUID), []).append(path)
    return found


def test_a_stored_study_is_triaged_when_its_association_ends(node):
    before = sum("study " in line and "result files" in line for line in node.lines)
    assert _store(node, SMALL) == SUCCESS
    node.wait_for("result files", 120, before + 1)
    source = pydicom.dcmread(SMALL, stop_before_pixels=True)
    stored = node.out / "incoming" / source.StudyInstanceUID / f"{source.SOPInstanceUID}.dcm"
    assert pydicom.dcmread(stored).SOPInstanceUID == source.SOPInstanceUID
    results = _results(node, source.StudyInstanceUID)
    assert len(results[SR_CLASS]) >= 1
    sr = pydicom.dcmread(results[SR_CLASS][0])
    assert sr.StudyInstanceUID == source.StudyInstanceUID and sr.PatientID == source.PatientID
    assert "association from TESTSCU@127.0.0.1" in node.log and "released" in node.log
    assert "copy attributes of module" not in node.log  # highdicom's INFO lines stay out


def test_an_oversized_instance_is_refused_out_of_resources(node):
    assert _store(node, LARGE) == OUT_OF_RESOURCES
    source = pydicom.dcmread(LARGE, stop_before_pixels=True)
    assert not (node.out / "incoming" / source.StudyInstanceUID).exists()


def test_an_unknown_caller_is_rejected(node):
    assoc = _associate(node, calling="STRANGER")
    assert assoc.is_rejected
    node.wait_for("association from STRANGER", 10)


def test_other_sop_classes_are_refused_at_negotiation(node):
    assoc = _associate(node, contexts=(CT,))
    # No context accepted: pynetdicom aborts an association that can carry nothing.
    assert not assoc.is_established or not assoc.accepted_contexts
    if assoc.is_established:
        assoc.release()


def test_a_peer_dropping_mid_transfer_leaves_nothing_and_the_node_serves_on(node):
    # A truncated A-ASSOCIATE-RQ, then the connection dropped.
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
        s.sendall(b"\x01\x00\x00\x00\x10\x00\x00\x01")
    # An association dropped in the middle of a large instance's P-DATA.
    assoc = _associate(node)
    dataset = pydicom.dcmread(LARGE)
    sock = assoc.dul.socket.socket
    timer = threading.Timer(0.05, lambda: sock.shutdown(socket.SHUT_RDWR))
    timer.start()
    with contextlib.suppress(Exception):  # the SCU's own socket is gone; that is the point
        assoc.send_c_store(dataset)
    timer.join()
    assoc.abort()
    sock.close()
    time.sleep(1)
    assert _store(node, SMALL) == SUCCESS
    assert not list(node.out.rglob("*.tmp"))


def test_ctrl_c_stops_cleanly_with_nothing_half_written(node):
    assert node.stop() == 0
    assert "stopped" in node.lines[-1]
    assert not list(node.out.rglob("*.tmp"))
    for path in node.out.rglob("*.dcm"):
        pydicom.dcmread(path)  # every file whole


def test_a_defect_in_one_study_leaves_the_node_serving(caplog, tmp_path):
    # The frozen bundle once lacked a highdicom table: the first study's DICOM results raised
    # FileNotFoundError and took the node down with every study after it.
    from fracture_desktop import listen

    def broken() -> None:
        raise FileNotFoundError("highdicom/_standard/sop_class_iod_map.json")

    triaged: list[str] = []
    incoming = tmp_path / "incoming" / "1.2.3"
    with caplog.at_level("ERROR", logger="fracture_desktop.node"):
        assert listen.triage_safely("1.2.3", incoming, broken) is False
        assert listen.triage_safely("1.2.4", tmp_path, lambda: triaged.append("1.2.4")) is True
    assert triaged == ["1.2.4"]
    assert "study 1.2.3 not triaged: internal error" in caplog.text
    assert "sop_class_iod_map.json" in caplog.text  # the traceback, for the bug report
    assert str(incoming) in caplog.text
