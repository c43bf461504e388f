"""Batch analysis: images read ahead in a helper thread, scored in order (in several lanes
where the engine has them), each failure its own."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fracture_desktop.core import analysis
from fracture_desktop.core.analysis import READ_AHEAD, ReadImage, analyse_each
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.inference.onnx_engine import OnnxEngine
from fracture_desktop.core.jobs import Cancelled, CancelToken, ahead


@pytest.fixture(scope="module")
def engine(shipped_model_dir: Path) -> OnnxEngine:
    return OnnxEngine.load(shipped_model_dir, threads=1)


@pytest.fixture
def records(fracatlas_dir: Path, tmp_path: Path) -> tuple[ImageRecord, ...]:
    """Four FracAtlas images, the third damaged after the scan found it."""
    folder = tmp_path / "study"
    folder.mkdir()
    for jpeg in sorted((fracatlas_dir / "images/Fractured").glob("*.jpg"))[:4]:
        shutil.copy(jpeg, folder / jpeg.name)
    found = scan_folder(folder).images
    assert len(found) == 4
    found[2].path.write_bytes(found[2].path.read_bytes()[:300])
    return found


def test_ahead_keeps_the_order_and_takes_items_only_as_far_ahead_as_asked() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(50):
            taken.append(i)
            yield i

    results = ahead(lambda i: i * i, items(), 3, "test-ahead")
    assert next(results) == 0
    assert taken == [0, 1, 2, 3]  # the one handed out, three ahead, no more
    assert list(results) == [i * i for i in range(1, 50)]


def test_ahead_with_several_workers_runs_items_at_once_and_keeps_the_order() -> None:
    # Each item waits for another to be in progress beside it: one worker would time out.
    together = threading.Barrier(2, timeout=10)

    def work(i: int) -> tuple[int, str]:
        together.wait()
        return i, threading.current_thread().name

    results = list(ahead(work, range(8), 2, "test-lanes", workers=2))
    assert [i for i, _ in results] == list(range(8))
    assert len({name for _, name in results}) == 2


def test_ahead_raises_a_failure_when_its_item_comes() -> None:
    def work(i: int) -> int:
        if i == 2:
            raise ValueError("two")
        return i

    results = ahead(work, range(5), 2, "test-ahead")
    assert [next(results), next(results)] == [0, 1]
    with pytest.raises(ValueError, match="two"):
        next(results)


def test_every_image_is_scored_in_order_from_the_input_made_ahead_each_failure_its_own(
    engine: OnnxEngine, records: tuple[ImageRecord, ...]
) -> None:
    analyses = list(analyse_each(records, engine))
    assert [a.finding.path for a in analyses] == [r.path for r in records]
    damaged = analyses[2].finding
    assert damaged.flag is Flag.NOT_ANALYSED and damaged.error
    for record, result in zip(records, analyses, strict=True):
        if record is records[2]:
            continue
        # Made in the reader thread, the input is the one the image itself gives.
        direct = engine.predict(load_image(record.path))
        assert result.prediction is not None
        assert result.prediction.probability == direct.probability
        assert result.prediction.boxes == direct.boxes
        assert result.image is not None  # the pixels stay for a key image


def test_an_engine_with_lanes_scores_images_at_once_with_the_same_results(
    shipped_model_dir: Path,
    engine: OnnxEngine,
    records: tuple[ImageRecord, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lanes = OnnxEngine.load(shipped_model_dir, threads=2, parallel_images=True)
    assert lanes.lanes == 2
    assert lanes.session.get_session_options().intra_op_num_threads == 1
    many = records * 3
    one_by_one = [a.finding for a in analyse_each(many, engine)]
    scorers: set[str] = set()
    score = analysis.score

    def noted(*args: object, **kwargs: object) -> analysis.Analysis:
        scorers.add(threading.current_thread().name)
        return score(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(analysis, "score", noted)
    at_once = [a.finding for a in analyse_each(many, lanes)]
    assert len(scorers) == 2 and all(name.startswith("score") for name in scorers)
    assert [f.path for f in at_once] == [r.path for r in many]
    assert [(f.flag, f.probability, f.boxes, f.domain_score, f.error) for f in at_once] == [
        (f.flag, f.probability, f.boxes, f.domain_score, f.error) for f in one_by_one
    ]
    # Opened for one image at a time, the same threads go to each image's layers.
    alone = OnnxEngine.load(shipped_model_dir, threads=2)
    assert alone.lanes == 1
    assert alone.session.get_session_options().intra_op_num_threads == 2


def test_a_cancelled_analysis_stops_reading_the_folder(
    engine: OnnxEngine, records: tuple[ImageRecord, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Path] = []
    read = analysis.read_image

    def counted(record: ImageRecord, **kwargs: object) -> ReadImage:
        reads.append(record.path)
        return read(record, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(analysis, "read_image", counted)
    many = records * 5
    token = CancelToken()
    results = analyse_each(many, engine, cancel=token)
    next(results)
    token.cancel()
    with pytest.raises(Cancelled):
        next(results)
    assert len(reads) <= 2 + READ_AHEAD < len(many)
    assert reads == [r.path for r in many[: len(reads)]]
