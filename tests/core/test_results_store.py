"""The results store: kept per image identity and model, across restarts, never guessed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.image import SpacingSource
from fracture_desktop.core.results_store import ResultsStore, StoredResult

SHA_A, SHA_B = "a" * 64, "b" * 64


def _finding(name: str, p: float | None, flag: Flag = Flag.DOUBT) -> Finding:
    return Finding(Path(f"/study/{name}"), f"id-{name}", flag, p)


def test_results_survive_a_restart(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite3")
    kept = store.put_finding(
        _finding("a.png", 0.42), SHA_A, "m 1 (aaaa)", ["truncated"], SpacingSource.PIXEL_SPACING
    )
    assert kept
    store.close()

    again = ResultsStore(tmp_path / "r.sqlite3")
    result = again.get("id-a.png", SHA_A)
    assert result is not None
    assert (result.flag, result.probability) == (Flag.DOUBT, 0.42)
    assert result.warnings == ("truncated",) and result.spacing_source == "Pixel Spacing"
    # The finding follows the image to wherever it is now.
    moved = result.finding(Path("/elsewhere/a.png"))
    assert moved == Finding(
        Path("/elsewhere/a.png"), "id-a.png", Flag.DOUBT, 0.42, "",
        SpacingSource.PIXEL_SPACING, ("truncated",),
    )  # fmt: skip
    again.close()


def test_another_model_does_not_see_the_results(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite3")
    store.put_finding(_finding("a.png", 0.9, Flag.FRACTURE), SHA_A, "model A")
    assert set(store.for_model(SHA_A)) == {"id-a.png"}
    assert store.for_model(SHA_B) == {}
    assert store.get("id-a.png", SHA_B) is None
    others = store.by_other_models(SHA_B)
    assert others["id-a.png"].model_label == "model A"
    assert store.by_other_models(SHA_A) == {}
    store.close()


def test_unscored_findings_are_not_kept(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite3")
    unreadable = Finding(Path("/x.dcm"), "id-x", Flag.NOT_ANALYSED, error="data ends early")
    assert not store.put_finding(unreadable, SHA_A, "m")
    anonymous = Finding(Path("/y.png"), "", Flag.DOUBT, 0.5)  # its identity is not known yet
    assert not store.put_finding(anonymous, SHA_A, "m")
    assert store.for_model(SHA_A) == {}
    store.close()


def test_a_later_result_replaces_the_earlier_one(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite3")
    store.put(StoredResult("id", SHA_A, "m", Flag.DOUBT, 0.5, made_at=1.0))
    store.put(StoredResult("id", SHA_A, "m", Flag.FRACTURE, 0.8, made_at=2.0))
    store.put(StoredResult("id", SHA_B, "old", Flag.NO_FRACTURE, 0.1, made_at=0.5))
    assert store.for_model(SHA_A)["id"].probability == 0.8
    assert len(store.for_model(SHA_A)) == 1
    store.close()


def test_a_damaged_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    path.write_bytes(b"not a database" * 100)
    store = ResultsStore(path)
    assert store.for_model(SHA_A) == {}
    store.put_finding(_finding("a.png", 0.3), SHA_A, "m")
    assert len(store.for_model(SHA_A)) == 1
    assert len(list(tmp_path.glob("r.damaged-*.sqlite3"))) == 1
    assert "damaged" in store.store.notices[0].reason
    store.close()


def test_a_flagged_images_heatmap_is_kept_small(tmp_path: Path) -> None:
    import numpy as np

    from fracture_desktop.core.results_store import HEATMAP_SIDE, small_heatmap

    heat = np.linspace(0, 1, 1000 * 600, dtype=np.float32).reshape(1000, 600)
    kept = small_heatmap(heat)
    store = ResultsStore(tmp_path / "r.sqlite3")
    store.put(StoredResult("id", SHA_A, "m", Flag.FRACTURE, 0.9, heatmap=kept))
    store.close()
    result = ResultsStore(tmp_path / "r.sqlite3").get("id", SHA_A)
    assert result is not None and result.heatmap is not None
    assert max(result.heatmap.shape) <= HEATMAP_SIDE
    assert np.array_equal(result.heatmap, kept)
    assert result.heat.max() == pytest.approx(kept.max() / 255) and result.heat.dtype == np.float32


def test_a_store_from_before_heatmaps_opens_and_keeps_its_results(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "r.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE results (identity TEXT NOT NULL, model_sha256 TEXT NOT NULL, "
        "model_label TEXT NOT NULL, flag TEXT NOT NULL, probability REAL NOT NULL, "
        "warnings TEXT NOT NULL, spacing_source TEXT, made_at REAL NOT NULL, "
        "PRIMARY KEY (identity, model_sha256))"
    )
    db.execute("INSERT INTO results VALUES ('id', ?, 'm', 'doubt', 0.5, '[]', NULL, 1.0)", (SHA_A,))
    db.commit()
    db.close()
    store = ResultsStore(path)
    assert store.get("id", SHA_A).probability == 0.5
    store.put(StoredResult("id2", SHA_A, "m", Flag.DOUBT, 0.4))
    assert len(store.for_model(SHA_A)) == 2
    store.close()


def test_everything_a_finding_has_is_kept_and_flagged_again_with_the_thresholds_in_use(
    tmp_path: Path,
) -> None:
    from fracture_desktop.core.findings import Thresholds

    finding = dataclasses.replace(
        _finding("a.png", 0.7, Flag.FRACTURE), domain_score=0.8, warnings=("cut short",)
    )
    store = ResultsStore(tmp_path / "r.sqlite3")
    assert store.put_finding(finding, SHA_A, "m", thresholds_source="site profile X")
    store.close()
    result = ResultsStore(tmp_path / "r.sqlite3").get("id-a.png", SHA_A)
    assert result is not None
    assert (result.domain_score, result.thresholds_source) == (0.8, "site profile X")
    assert result.finding(Path("/a.png")).domain_score == 0.8
    assert result.finding(Path("/a.png")).warnings == ("cut short",)
    # Flagged again with the thresholds in use now: a site profile's, or outside the domain.
    assert result.finding(Path("/a.png"), Thresholds(0.9, 0.5)).flag is Flag.DOUBT
    outside = dataclasses.replace(result, domain_score=1.5)
    assert outside.finding(Path("/a.png"), Thresholds(0.9, 0.5)).flag is Flag.OUTSIDE_DOMAIN


def test_a_stored_result_is_found_by_path_size_and_mtime_without_hashing(tmp_path: Path) -> None:
    from fracture_desktop.core.imaging.records import ImageRecord, SourceKind

    picture = tmp_path / "a.png"
    picture.write_bytes(b"pixels")
    finding = Finding(picture, "sha256:abc", Flag.DOUBT, 0.5)
    store = ResultsStore(tmp_path / "r.sqlite3")
    store.put_finding(finding, SHA_A, "m")
    record = ImageRecord(path=picture, kind=SourceKind.PLAIN)
    assert store.identity_of(picture) == "sha256:abc"
    kept = store.stored_for(record, SHA_A)
    assert kept is not None and kept.probability == 0.5
    picture.write_bytes(b"other pixels")  # changed: its identity must be found again
    assert store.stored_for(record, SHA_A) is None


def test_another_file_with_the_same_sop_instance_uid_does_not_take_its_result(
    tmp_path: Path,
) -> None:
    # The fuzz reproducers' damaged files carry their control's UIDs: a second scan gave a
    # file that cannot be decoded the control's probability, without decoding it.
    from fracture_desktop.core.imaging.records import ImageRecord, SourceKind

    uid = "1.2.826.0.1.3680043.8.498.1"
    good, damaged = tmp_path / "good.dcm", tmp_path / "damaged.dcm"
    good.write_bytes(b"DICM good pixels")
    damaged.write_bytes(b"DICM bad pixels")
    store = ResultsStore(tmp_path / "r.sqlite3")
    store.put_finding(Finding(good, uid, Flag.DOUBT, 0.37), SHA_A, "m")

    def record(path: Path) -> ImageRecord:
        return ImageRecord(path=path, kind=SourceKind.DICOM, sop_instance_uid=uid)

    kept = store.stored_for(record(good), SHA_A)
    assert kept is not None and kept.probability == 0.37
    assert store.stored_for(record(damaged), SHA_A) is None
    good.write_bytes(b"DICM rewritten")  # changed since it was scored: analysed again
    assert store.stored_for(record(good), SHA_A) is None


def test_boxes_are_kept_with_their_finding(tmp_path: Path) -> None:
    boxes = (Box(10.0, 20.0, 30.5, 40.0, 0.91), Box(1.0, 2.0, 3.0, 4.0, 0.4))
    finding = dataclasses.replace(_finding("a.png", 0.9, Flag.FRACTURE), boxes=boxes)
    store = ResultsStore(tmp_path / "r.sqlite3")
    assert store.put_finding(finding, SHA_A, "m 1 (aaaa)")
    store.close()
    again = ResultsStore(tmp_path / "r.sqlite3")
    result = again.get("id-a.png", SHA_A)
    assert result is not None and result.boxes == boxes
    assert result.finding(Path("/study/a.png")).drawn_boxes == boxes
    again.close()
