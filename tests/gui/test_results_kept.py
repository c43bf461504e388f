"""Results kept between sessions: reopening shows them at once, reports and analyses reuse them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import IMAGE_COUNT
from gui_helpers import FakeEngine, analyse_folder, open_and_wait
from pypdf import PdfReader
from test_reports import _export

from fracture_desktop.core.findings import Flag

pytestmark = pytest.mark.gui

SCORES = {"MR_small.dcm": 0.9, "CT_small.dcm": 0.5, "cr_cervical": 0.75}


def test_reopening_after_a_restart_shows_every_result_without_the_model(
    qtbot, make_window, sample_folder: Path
) -> None:
    first = FakeEngine(SCORES)
    window = make_window(engine=first)
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    assert first.calls == IMAGE_COUNT
    before = {path.name: (f.flag, f.probability) for path, f in window.session.findings.items()}
    window.close()

    second = FakeEngine({})  # would score everything 0.1: any run would show
    reopened = make_window(engine=second)
    open_and_wait(qtbot, reopened, sample_folder)
    qtbot.waitUntil(lambda: len(reopened.session.findings) == IMAGE_COUNT, timeout=10000)
    after = {path.name: (f.flag, f.probability) for path, f in reopened.session.findings.items()}
    assert after == before
    mr = next(r for r in reopened.session.records.values() if r.path.name == "MR_small.dcm")
    assert reopened.browser.badge_text(mr) == "Fracture 90%"
    assert len(reopened.findings_panel.ordered_records()) == IMAGE_COUNT
    # Analysing again has nothing left to do.
    reopened.reading.analyse_folder()
    assert "Already analysed" in reopened.statusBar().currentMessage()
    assert second.calls == 0


def test_analysis_resumes_where_it_stopped(qtbot, make_window, sample_folder: Path) -> None:
    gate = threading.Event()
    engine = FakeEngine(SCORES, gate)
    window = make_window(engine=engine)
    open_and_wait(qtbot, window, sample_folder)
    window.reading.analyse_folder()
    qtbot.waitUntil(lambda: len(window.session.findings) == 1, timeout=10000)
    with qtbot.waitSignal(window.analysis.sig_finished, timeout=10000):
        window.status.cancel_button.click()
        gate.set()
    done = len(window.session.findings)
    assert 1 <= done < IMAGE_COUNT
    calls_before = engine.calls
    analyse_folder(qtbot, window)
    assert len(window.session.findings) == IMAGE_COUNT
    assert engine.calls - calls_before == IMAGE_COUNT - done  # none scored twice


def test_export_after_analysis_runs_the_model_zero_times(
    qtbot, make_window, sample_folder: Path, monkeypatch
) -> None:
    engine = FakeEngine(SCORES)  # three flagged: their PDF key images need heatmaps
    window = make_window(engine=engine)
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    calls = engine.calls
    out = sample_folder.parent / "out"
    out.mkdir()
    written, cancelled = _export(
        qtbot, window, monkeypatch, out / "r.pdf", out / "r.csv", deidentify=False
    )
    assert not cancelled and len(written) == 2
    assert engine.calls == calls
    pictures = sum(len(page.images) for page in PdfReader(out / "r.pdf").pages)
    assert pictures >= 3  # a key image for each flagged image, drawn from the kept heatmaps


def test_results_made_for_a_report_are_shown_and_kept(
    qtbot, make_window, sample_folder: Path, monkeypatch
) -> None:
    engine = FakeEngine(SCORES)
    window = make_window(engine=engine)
    open_and_wait(qtbot, window, sample_folder)
    out = sample_folder.parent / "out"
    out.mkdir()
    _export(qtbot, window, monkeypatch, None, out / "r.csv", deidentify=False)
    qtbot.waitUntil(lambda: len(window.session.findings) == IMAGE_COUNT, timeout=10000)
    assert engine.calls == IMAGE_COUNT
    mr = next(p for p in window.session.findings if p.name == "MR_small.dcm")
    assert window.session.findings[mr].flag is Flag.FRACTURE
    window.close()

    again = FakeEngine({})
    reopened = make_window(engine=again)
    open_and_wait(qtbot, reopened, sample_folder)
    qtbot.waitUntil(lambda: len(reopened.session.findings) == IMAGE_COUNT, timeout=10000)
    assert again.calls == 0


def test_another_models_results_are_shown_marked_and_not_reused(
    qtbot, make_window, sample_folder: Path
) -> None:
    from fracture_desktop.core.paths import models_root

    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    window.close()

    other = FakeEngine({})
    reopened = make_window(engine=other, model=models_root() / "fracture_net-v1")
    open_and_wait(qtbot, reopened, sample_folder)
    mr = next(r for r in reopened.session.records.values() if r.path.name == "MR_small.dcm")
    qtbot.waitUntil(lambda: reopened.browser.badge_text(mr) == "(Fracture 90%)", timeout=10000)
    assert reopened.session.findings == {}  # shown, but not this model's answer
    analyse_folder(qtbot, reopened)
    assert other.calls == IMAGE_COUNT
    assert reopened.browser.badge_text(mr) == "No fracture 10%"


def test_a_pdf_after_a_restart_runs_the_model_zero_times(
    qtbot, make_window, sample_folder: Path, monkeypatch
) -> None:
    window = make_window(engine=FakeEngine(SCORES))
    open_and_wait(qtbot, window, sample_folder)
    analyse_folder(qtbot, window)
    window.close()

    again = FakeEngine({})
    reopened = make_window(engine=again)
    open_and_wait(qtbot, reopened, sample_folder)
    qtbot.waitUntil(lambda: len(reopened.session.findings) == IMAGE_COUNT, timeout=10000)
    out = sample_folder.parent / "out"
    out.mkdir()
    _export(qtbot, reopened, monkeypatch, out / "r.pdf", None, deidentify=False)
    assert again.calls == 0
