"""The reading session without Qt: state changes and the events views subscribe to."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from fracture_desktop.core.decisions import Decision, DecisionStore
from fracture_desktop.core.events import Event
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.image import VoiWindow
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.measure import Distance, Measurement
from fracture_desktop.core.session import ReadingSession, neighbours, series_step, step_in

FILES = {
    "ct.dcm": "pydicom_3.0.2/CT_small.dcm",
    "mr.dcm": "pydicom_3.0.2/MR_small.dcm",
    "multiframe.dcm": "pydicom-data_1.0.0/emri_small.dcm",
}


@pytest.fixture
def records(dicom_dir: Path, tmp_path: Path) -> list[ImageRecord]:
    folder = tmp_path / "study"
    folder.mkdir()
    for name, source in FILES.items():
        shutil.copy(dicom_dir / source, folder / name)
    return list(scan_folder(folder).images)


@pytest.fixture
def session(tmp_path: Path) -> ReadingSession:
    return ReadingSession(DecisionStore(tmp_path / "store.sqlite3"))


def record_named(records: list[ImageRecord], name: str) -> ImageRecord:
    return next(r for r in records if r.path.name == name)


def heard(event: Event[Any]) -> list[Any]:
    """Connect a list to ``event``; it collects every value emitted."""
    values: list[Any] = []
    event.connect(values.append)
    return values


def test_opening_forgets_the_previous_folder(session, records, tmp_path: Path) -> None:
    opened = heard(session.events.opened)
    session.open(tmp_path)
    session.add_records(records)
    session.add_problem(FileProblem(tmp_path / "broken.dcm", "not an image"))
    session.show(records[0])
    session.add_finding(Finding(records[0].path, "uid", Flag.DOUBT, 0.5))
    assert len(session.records) == 3 and session.missing_findings() == 2
    session.open(tmp_path / "other")
    assert opened == [tmp_path, tmp_path / "other"]
    assert (session.records, session.problems, session.findings) == ({}, [], {})
    assert session.current is None and not session.scan_done


def test_measurements_are_kept_per_image_and_frame_until_another_folder(
    session, records, tmp_path: Path
) -> None:
    session.open(tmp_path)
    session.add_records(records)
    path = records[0].path
    ruler = Measurement((1.0, 2.0), (4.0, 6.0), Distance(5.0, "px", "uncalibrated"))
    session.set_measurements(path, 0, (ruler,))
    assert session.measurements_of(path, 0) == (ruler,)
    assert (
        session.measurements_of(path, 1) == () and session.measurements_of(records[1].path, 0) == ()
    )
    session.show(records[1])  # looking elsewhere keeps them
    assert session.measurements_of(path, 0) == (ruler,)
    session.set_measurements(path, 0, ())  # all deleted
    assert session.measurements == {}
    session.set_measurements(path, 0, (ruler,))
    session.open(tmp_path / "other")
    assert session.measurements == {}


def test_findings_of_another_folder_are_dropped(session, records, tmp_path: Path) -> None:
    session.open(tmp_path)
    session.add_records(records[:1])
    findings = heard(session.events.finding)
    stray = Finding(tmp_path / "elsewhere.dcm", "x", Flag.FRACTURE, 0.9)
    assert not session.add_finding(stray)
    assert findings == [] and session.findings == {}


def test_decisions_need_an_identity_and_are_announced(session, records, tmp_path: Path) -> None:
    session.open(tmp_path)
    session.add_records(records)
    ct = record_named(records, "ct.dcm")
    decisions = heard(session.events.decision)
    assert not session.decide(ct, Decision.CONFIRMED)  # identity not known yet
    session.set_identity(ct.path, ct.sop_instance_uid)
    assert session.decide(ct, Decision.CONFIRMED)
    assert decisions == [(ct.path, Decision.CONFIRMED)]
    # A new session over the same store announces the decision once the identity is known.
    again = ReadingSession(DecisionStore(tmp_path / "store.sqlite3"))
    again.open(tmp_path)
    again.add_records(records)
    announced = heard(again.events.decision)
    again.set_identity(ct.path, ct.sop_instance_uid)
    assert announced == [(ct.path, Decision.CONFIRMED)]
    assert again.decision_of(ct.path) is Decision.CONFIRMED


def test_frames_are_clamped_to_the_image(session, records, tmp_path: Path) -> None:
    session.open(tmp_path)
    session.add_records(records)
    multiframe = record_named(records, "multiframe.dcm")
    frames = heard(session.events.frame)
    session.show(multiframe)
    session.set_frame(25)
    session.set_frame(99)  # already on the last frame: nothing to announce
    session.set_frame(-3)
    assert frames == [multiframe.frames - 1, 0]


def test_display_changes_fire_once_per_change(session) -> None:
    changes = heard(session.events.display)
    window = VoiWindow(center=40.0, width=400.0)
    session.update_display(rotation=90)
    session.update_display(rotation=90)
    session.update_display(voi=window)
    session.update_display(voi=window)
    session.update_display(voi=VoiWindow(center=40.0, width=400.0))  # another object: new
    assert [c.rotation for c in changes] == [90, 90, 90]
    assert changes[1].voi is window and len(changes) == 3
    with pytest.raises(TypeError):
        session.update_display(zoom=2)


def test_navigation_helpers(records) -> None:
    order = sorted(records, key=lambda r: r.path.name)  # ct, mr, multiframe: three series
    ct, mr, multi = order
    assert step_in(order, None, 1) is ct
    assert step_in(order, ct, 1) is mr and step_in(order, multi, 5) is multi
    assert step_in([], ct, 1) is None
    assert series_step(order, ct, 1) is mr and series_step(order, multi, -9) is ct
    assert neighbours(order, mr) == (multi, ct) and neighbours(order, ct) == (mr,)
