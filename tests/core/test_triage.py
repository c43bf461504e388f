"""The triage job: real images and an untrained model in, report files out, stages, cancel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fracture_desktop.core.atomic import OutputExistsError
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.inference.engine import InferenceEngine
from fracture_desktop.core.jobs import Cancelled, CancelToken
from fracture_desktop.core.triage import (
    ANALYSING,
    WRITING_PDF,
    TriageRequest,
    triage,
)


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> InferenceEngine:
    return InferenceEngine.load(model_dir, "cpu", 1)


@pytest.fixture
def request_to(shared_dir: Path, tmp_path: Path) -> TriageRequest:
    folder = tmp_path / "study"
    folder.mkdir()
    jpegs = sorted((shared_dir / "datasets/fracatlas/images/Fractured").glob("*.jpg"))[:3]
    for jpeg in jpegs:
        shutil.copy(jpeg, folder / jpeg.name)
    (folder / "broken.dcm").write_bytes(b"")
    scan = scan_folder(folder)
    out = tmp_path / "out"
    out.mkdir()
    return TriageRequest(
        scan.images, str(folder), out / "r.csv", out / "r.pdf", problems=scan.problems
    )


def test_triage_scores_and_writes_both_reports(
    engine: InferenceEngine, request_to: TriageRequest
) -> None:
    stages: list[tuple[str, int, int]] = []
    result = triage(request_to, engine, progress=lambda *step: stages.append(step))
    assert result.written == (request_to.pdf_path, request_to.csv_path)
    assert len(result.entries) == 4  # three images, then the broken file
    assert sum(e.finding.probability is not None for e in result.entries) == 3
    assert [s for s in stages if s[0] == ANALYSING][-1] == (ANALYSING, 3, 3)
    assert stages[-1][0] == WRITING_PDF and stages.index(stages[-1]) > 2
    assert request_to.csv_path.read_text(encoding="utf-8-sig").count("\n") == 5
    with pytest.raises(OutputExistsError):
        request_to.check_outputs()


def test_cancel_while_writing_leaves_no_report(
    engine: InferenceEngine, request_to: TriageRequest
) -> None:
    token = CancelToken()

    def cancel_in_pdf(stage: str, _done: int, _total: int) -> None:
        if stage == WRITING_PDF:
            token.cancel()

    with pytest.raises(Cancelled):
        triage(request_to, engine, progress=cancel_in_pdf, cancel=token)
    assert not any(request_to.pdf_path.parent.iterdir())


def test_the_same_file_for_both_reports_is_refused(request_to: TriageRequest) -> None:
    with pytest.raises(ValueError, match="same file"):
        TriageRequest((), "", request_to.csv_path, request_to.csv_path).check_outputs()
