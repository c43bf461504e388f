"""One pass per file: open -> analyse -> export decodes and hashes each image once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import IMAGE_COUNT
from gui_helpers import FakeEngine, open_and_wait

import fracture_desktop.core.analysis as analysis
import fracture_desktop.core.imaging.identity as identity
import fracture_desktop.gui.controllers.images as images
from fracture_desktop.core.triage import TriageRequest

pytestmark = pytest.mark.gui


@pytest.fixture
def counted(monkeypatch) -> dict[str, Counter[str]]:
    """Count pixel decodes and content hashes, by file name, wherever they are asked for."""
    counts: dict[str, Counter[str]] = {"decodes": Counter(), "hashes": Counter()}

    def counting(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(path: Path, *args: object) -> Any:
            counts[kind][Path(path).name] += 1
            return function(path, *args)

        return wrapper

    # Pixels are decoded in the guard's worker processes: count the requests, at every
    # module that makes them (the analysis and thumbnails, and the viewer's loader).
    for module in (analysis, images):
        monkeypatch.setattr(module, "guarded_image", counting("decodes", module.guarded_image))
    monkeypatch.setattr(identity, "file_sha256", counting("hashes", identity.file_sha256))
    identity._DIGESTS.clear()  # digests remembered by earlier tests would hide the hashing
    return counts


def test_open_analyse_export_decodes_each_image_once(
    qtbot, make_window, sample_folder: Path, tmp_path: Path, counted
) -> None:
    flagged = sorted(p.name for p in (sample_folder / "xr").glob("*.jpg"))[0]
    window = make_window(engine=FakeEngine({flagged: 0.9}))
    open_and_wait(qtbot, window, sample_folder)
    # The thumbnail worker decodes every image once and leaves its model input ready.
    qtbot.waitUntil(lambda: len(window.prepared) == IMAGE_COUNT, timeout=20000)
    decodes = counted["decodes"]
    opened = sum(decodes.values())
    assert set(decodes) == {r.path.name for r in window.session.records.values()}
    # Each image once for its thumbnail; the one on show and its neighbours once more.
    assert IMAGE_COUNT <= opened <= IMAGE_COUNT + 3

    with qtbot.waitSignal(window.analysis.sig_finished, timeout=60000):
        window.reading.analyse_folder()
    assert len(window.session.findings) == IMAGE_COUNT
    assert sum(decodes.values()) == opened  # the analysis decoded nothing
    assert len(window.prepared) == 0

    out = tmp_path / "out"
    out.mkdir()
    session = window.session
    request = TriageRequest(
        tuple(session.records.values()),
        str(session.folder),
        out / "r.csv",
        out / "r.pdf",
        problems=tuple(session.problems),
        known=dict(session.findings),
    )
    before = decodes[flagged]
    with qtbot.waitSignal(window.report_writer.sig_finished, timeout=60000) as finished:
        window.report_writer.write(request)
    assert finished.args == [(out / "r.pdf", out / "r.csv"), False]
    # Known results are reused: only the flagged image is decoded again, for its key image.
    assert sum(decodes.values()) == opened + 1
    assert decodes[flagged] == before + 1
    # Content hashes (JPEGs; DICOMs use their SOP Instance UID): once per file, all along.
    assert set(counted["hashes"]) == {p.name for p in (sample_folder / "xr").glob("*.jpg")}
    assert set(counted["hashes"].values()) == {1}
