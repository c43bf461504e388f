"""Helpers for the DICOM results and node tests: the sample radiographs with findings made
by hand, another vendor's SR, and ``listen`` in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.dicom_out.codes import FRACTURE, PROCEDURE
from fracture_desktop.core.findings import Finding, Flag, Thresholds
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report.entries import ModelIdentity, ReportEntry

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
#: The flag each sample DICOM gets, in scan order, and whether it has a box.
FLAGS = (Flag.FRACTURE, Flag.NO_FRACTURE, Flag.DOUBT)
MODEL = ModelIdentity(
    id="fracture_net-test",
    version="1.2.3",
    sha256_prefix="ab" * 6,
    thresholds=Thresholds(0.6, 0.4),
    intended_use="Research and reading aid, not a diagnosis.",
    thresholds_source="model card",
    sha256="ab" * 32,
)


def sample_entries() -> list[ReportEntry]:
    """The samples' DICOM radiographs (three studies) flagged by hand (fracture, no
    fracture, doubt), each with a box, drawn on the flagged ones; the JPEGs analysed."""
    scan = scan_folder(SAMPLES)
    made = []
    dicoms = [r for r in scan.images if r.sop_instance_uid]
    for record, flag in zip(dicoms, FLAGS, strict=True):
        box = Box(10.0, 20.0, 110.0, 220.0, 0.71)
        finding = Finding(record.path, record.sop_instance_uid, flag, 0.5, boxes=(box,))
        made.append(ReportEntry(record.path, finding, record))
    for record in scan.images:
        if not record.sop_instance_uid:
            finding = Finding(record.path, "sha", Flag.NO_FRACTURE, 0.1)
            made.append(ReportEntry(record.path, finding, record))
    return made


def free_port() -> int:
    """A TCP port free on localhost now (the OS's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """``fracture-desktop listen`` in a subprocess, its log collected line by line."""

    def __init__(self, out: Path, model: Path, *options: str) -> None:
        self.port = free_port()
        self.out = out
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        argv = [sys.executable, "-m", "fracture_desktop", "listen", "--port", str(self.port)]
        argv += ["--out", str(out), "--model", str(model), "--device", "cpu", *options]
        self.process = subprocess.Popen(
            argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("listening on", 120)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, seconds: float, count: int = 1) -> None:
        """Until ``text`` appears ``count`` times in the log (fails after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while sum(text in line for line in list(self.lines)) < count:
            if self.process.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"listen ended ({self.process.returncode}):\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged in {seconds} s:\n{self.log}")
            time.sleep(0.1)

    def stop(self) -> int:
        """Ctrl+C, as a user stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        code = self.process.wait(60)
        self._reader.join(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code


def foreign_sr(source: Path, out: Path) -> Path:
    """A radiologist's text-only TID 1500 SR from another maker, on the same image."""
    image = pydicom.dcmread(source, stop_before_pixels=True)
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Doe^Jane"),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=PROCEDURE,
        imaging_measurements=[
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(identifier="reader"),
                source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(image)],
                qualitative_evaluations=[hd.sr.QualitativeEvaluation(codes.DCM.Finding, FRACTURE)],
            )
        ],
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=[image],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=50,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="Other Vendor",
    )
    path = out / "other_vendor_sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    return path
