"""The reader's data in the viewer: never lost, never in the way, and what it shows stays true.

A restart is a new window on the same data directory (``make_window`` keeps it in
``tmp_path``); the data store's own promises are tested in tests/core/test_store.py.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import IMAGE_COUNT
from gui_helpers import FakeEngine, analyse_folder, noise_folder, open_and_wait
from test_reports import _export

from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import Flag
from fracture_desktop.gui.controllers.thumbnails import ThumbnailMaker
from fracture_desktop.gui.main_window import NOT_SAVING

pytestmark = pytest.mark.gui

SCORES = {"MR_small.dcm": 0.9, "CT_small.dcm": 0.5, "cr_cervical": 0.75}


def _open_without_identities(qtbot, window, folder: Path, monkeypatch) -> None:
    """Open ``folder`` as if Analyse were pressed at once: no file hashed yet."""
    monkeypatch.setattr(ThumbnailMaker, "add", lambda self, records: None)
    with qtbot.waitSignal(window.scan.sig_finished, timeout=20000):
        window.open_folder(folder)
    qtbot.waitUntil(lambda: window.analysis.available, timeout=10000)
    assert window.session.identities == {}


def _analysed_then_reopened(qtbot, make_window, folder: Path, monkeypatch):
    """A folder analysed in one window, then opened in a new one (a restart) before its
    identities are hashed; returns that window and its engine, which counts model calls."""
    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, folder)
    analyse_folder(qtbot, window)
    window.close()
    again = FakeEngine({})
    reopened = make_window(engine=again)
    _open_without_identities(qtbot, reopened, folder, monkeypatch)
    return reopened, again


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return {Path(row["file_path"]).name: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("content", [b"[1,2,3]", b"{garb", b"\xff\xfe{}", b'{"a": "confirmed"'])
def test_a_damaged_decisions_file_never_stops_the_viewer(
    qtbot, make_window, tmp_path: Path, content: bytes
) -> None:
    (tmp_path / "decisions.json").write_bytes(content)
    window = make_window()
    assert window.isVisible()
    notices = window.status.notices.notices
    assert any("decisions file was damaged" in n.reason for n in notices)
    assert (tmp_path / "decisions.json.bak").read_bytes() == content


def test_a_damaged_store_is_set_aside_and_analysis_is_available(
    qtbot, make_window, tmp_path: Path
) -> None:
    from fracture_desktop.core.results_store import ResultsStore, StoredResult

    store = tmp_path / "results.sqlite3"
    results = ResultsStore(store)
    for i in range(300):
        heat = np.random.default_rng(i).integers(0, 255, (40, 40), dtype=np.uint8)
        results.put(StoredResult(f"id-{i}", "a" * 64, "m", Flag.FRACTURE, 0.9, heatmap=heat))
    results.store.read("PRAGMA wal_checkpoint(TRUNCATE)")
    results.close()
    data = bytearray(store.read_bytes())
    rng = np.random.default_rng(1)
    for page in range(3, len(data) // 4096, 3):  # the header intact, as the tester did
        data[page * 4096 : (page + 1) * 4096] = rng.integers(0, 256, 4096, np.uint8).tobytes()
    store.write_bytes(bytes(data))
    window = make_window()
    qtbot.waitUntil(lambda: window.analysis.available, timeout=10000)  # not "checking" forever
    assert any("data store was damaged" in n.reason for n in window.status.notices.notices)
    assert len(list(tmp_path.glob("results.damaged-*.sqlite3"))) == 1


def test_a_data_folder_that_cannot_be_written_leaves_a_working_viewer_that_says_so(
    qtbot, make_window, tmp_path: Path, sample_folder: Path
) -> None:
    (tmp_path / "results.sqlite3").mkdir()  # in the way of the store: it cannot be opened
    engine = FakeEngine(SCORES)
    window = make_window(engine=engine)
    assert NOT_SAVING in window.windowTitle()
    assert window.status.store_label.isVisible()
    assert any("cannot be written" in n.reason for n in window.status.notices.notices)
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    assert len(window.session.findings) == IMAGE_COUNT
    record = next(iter(window.session.records.values()))
    window.reading.decide(Decision.UNCERTAIN, record)
    assert window.session.decision_of(record.path) is Decision.UNCERTAIN


def test_a_store_that_fills_up_never_ends_an_analysis(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window(engine=FakeEngine(SCORES))
    store = window.session.decisions.store
    pages = store.read("PRAGMA page_count")[0][0]
    store.read(f"PRAGMA max_page_count = {pages}")  # SQLite's "database or disk is full"
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    assert len(window.session.findings) == IMAGE_COUNT  # was 0: one failed write ended it
    qtbot.waitUntil(lambda: window.status.store_label.isVisible(), timeout=5000)
    assert any("cannot be written" in n.reason for n in window.status.notices.notices)


def test_analyse_right_after_opening_reuses_kept_results(
    qtbot, make_window, sample_folder: Path, monkeypatch
) -> None:
    reopened, again = _analysed_then_reopened(qtbot, make_window, sample_folder, monkeypatch)
    analyse_folder(qtbot, reopened)
    assert again.calls == 0  # found by path, size and mtime (or UID), not hashed again
    assert len(reopened.session.findings) == IMAGE_COUNT


def test_export_after_a_restart_reuses_kept_results_and_confirms(
    qtbot, make_window, sample_folder: Path, monkeypatch
) -> None:
    reopened, again = _analysed_then_reopened(qtbot, make_window, sample_folder, monkeypatch)
    out = sample_folder.parent / "out"
    out.mkdir()
    written, cancelled = _export(qtbot, reopened, monkeypatch, None, out / "r.csv", False)
    assert not cancelled and written == (out / "r.csv",)
    assert again.calls == 0
    assert _rows(out / "r.csv")["MR_small.dcm"]["flag"] == Flag.FRACTURE
    box = reopened.report_flow.confirmation
    assert box is not None and box.isVisible() and "r.csv" in box.text()


def test_domain_scores_and_the_shift_warning_survive_a_restart(
    qtbot, make_window, tmp_path: Path, shipped_model_dir: Path, monkeypatch
) -> None:
    from test_domain_and_profiles import OutsideEngine

    from fracture_desktop.core.shift import MIN_FOLDER_SIZE

    folder = noise_folder(tmp_path)
    window = make_window(model=shipped_model_dir, engine=OutsideEngine())
    open_and_wait(qtbot, window, folder)
    analyse_folder(qtbot, window)
    message = window.findings_panel.warning.text()
    assert message and not window.findings_panel.warning.isHidden()
    window.close()

    reopened = make_window(model=shipped_model_dir, engine=FakeEngine({}))
    open_and_wait(qtbot, reopened, folder)
    qtbot.waitUntil(lambda: len(reopened.session.findings) == MIN_FOLDER_SIZE, timeout=10000)
    assert {f.domain_score for f in reopened.session.findings.values()} == {4.0}
    qtbot.waitUntil(lambda: not reopened.findings_panel.warning.isHidden(), timeout=5000)
    assert reopened.findings_panel.warning.text() == message
    out = tmp_path / "out"
    out.mkdir()
    _export(qtbot, reopened, monkeypatch, None, out / "r.csv", False)
    rows = _rows(out / "r.csv").values()
    assert {row["domain_score"] for row in rows} == {"4.0000"}  # was blank
    assert {row["flag"] for row in rows} == {Flag.OUTSIDE_DOMAIN}


def test_an_image_that_fails_is_not_counted_as_analysed_and_is_listed_in_problems(
    qtbot, make_window, sample_folder: Path
) -> None:
    window = make_window(engine=FakeEngine({**SCORES, "CT_small.dcm": float("nan")}))
    open_and_wait(qtbot, window, sample_folder)
    listed_before = len(window.problems.problems())
    analyse_folder(qtbot, window)
    ct = next(p for p in window.session.findings if p.name == "CT_small.dcm")
    assert window.session.findings[ct].flag is Flag.NOT_ANALYSED
    assert window.findings_panel.summary.text().startswith(
        f"{IMAGE_COUNT - 1} analysed, 1 not analysed (see Problems)"
    )
    problems = window.problems.problems()
    assert len(problems) == listed_before + 1
    assert problems[-1][0] == "CT_small.dcm" and "not a number" in problems[-1][1]
    assert f"{IMAGE_COUNT - 1} analysed" in window.browser.summary.text()
    assert window.problems_dock.windowTitle() == f"Problems ({listed_before + 1})"


def test_the_readers_own_call_sits_beside_the_flag_in_the_reports(
    qtbot, make_window, tmp_path: Path, sample_folder: Path, monkeypatch
) -> None:
    from pypdf import PdfReader
    from PySide6.QtWidgets import QInputDialog

    ct_uid = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"  # CT_small.dcm's SOP UID
    (tmp_path / "decisions.json").write_text(f'{{"{ct_uid}": "confirmed"}}', encoding="utf-8")
    window = make_window(engine=FakeEngine(SCORES))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Dr Ada", True)))
    window.act_reader_name.trigger()
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    records = {r.path.name: r for r in window.session.records.values()}
    jpeg = next(name for name in records if name.endswith(".jpg"))
    # The model flags MR a fracture; the reader sees none. The JPEG the model clears
    # (0.1) shows one: a missed fracture is recordable too.
    window.browser.select_record(records["MR_small.dcm"])
    qtbot.waitUntil(lambda: window.view.record == records["MR_small.dcm"], timeout=10000)
    window.findings_panel.table.setFocus()
    window.findings_panel.normal_button.click()
    window.reading.decide(Decision.FRACTURE, records[jpeg])
    assert window.browser.badge_text(records["CT_small.dcm"]).endswith("\u2713 confirmed")
    out = tmp_path / "out"
    out.mkdir()
    _export(qtbot, window, monkeypatch, out / "r.pdf", out / "r.csv", False)
    rows = _rows(out / "r.csv")
    mr, picture, ct = rows["MR_small.dcm"], rows[jpeg], rows["CT_small.dcm"]
    assert (mr["flag"], mr["reader_decision"], mr["reader"]) == (
        "fracture",
        "no fracture",
        "Dr Ada",
    )
    assert (picture["flag"], picture["reader_decision"]) == ("no fracture", "fracture")
    assert (ct["reader_decision"], ct["reader"]) == ("confirmed", "")  # an old decision
    text = "".join(page.extract_text() for page in PdfReader(out / "r.pdf").pages)
    assert "Dr Ada" in text and "no fracture (Dr Ada)" in text


def test_copying_the_sample_folder_keeps_decisions_apart(make_window, tmp_path: Path) -> None:
    """Two windows on one profile: each decision is its own row (see tests/core)."""
    first, second = make_window(), make_window()
    first.session.decisions.set("a", Decision.FRACTURE)
    second.session.decisions.set("b", Decision.NO_FRACTURE)
    third = make_window()
    assert third.session.decisions.get("a") is Decision.FRACTURE
    assert third.session.decisions.get("b") is Decision.NO_FRACTURE
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_the_findings_say_when_a_model_has_no_domain_check(
    qtbot, make_window, sample_folder: Path
) -> None:
    from fracture_desktop.gui.controllers.site import NO_DOMAIN_CHECK_WARNING

    window = make_window(engine=FakeEngine(SCORES))  # the untrained test model has none
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    qtbot.waitUntil(lambda: not window.findings_panel.warning.isHidden(), timeout=5000)
    assert window.findings_panel.warning.text() == NO_DOMAIN_CHECK_WARNING
