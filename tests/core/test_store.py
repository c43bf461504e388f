"""The data store keeps the reader's decisions: two processes, damage, old files, no disk."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fracture_desktop.core.decisions import Decision, DecisionStore, open_decisions
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.results_store import ResultsStore, StoredResult
from fracture_desktop.core.store import LEGACY_BACKUP, DataStore

SHA = "a" * 64
REPO = Path(__file__).resolve().parents[2]

# A viewer, as a process: opens the store, says it is ready, waits for "go", then records its
# decisions one by one (a reader pressing a key per image).
VIEWER = textwrap.dedent(
    """
    import sys, time
    from fracture_desktop.core.decisions import Decision, DecisionStore
    store = DecisionStore(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(sys.argv[3])):
        store.set(f"{sys.argv[2]}-{i}", Decision.FRACTURE)
        time.sleep(0.002)
    print("done", flush=True)
    """
)


def test_two_viewers_on_one_profile_keep_each_others_decisions(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    counts = {"one": 40, "two": 60}
    viewers = {
        name: subprocess.Popen(
            [sys.executable, "-c", VIEWER, str(path), name, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, n in counts.items()
    }
    for viewer in viewers.values():  # both open before either writes: two open windows
        assert viewer.stdout.readline().strip() == "ready"
    for viewer in viewers.values():
        viewer.stdin.write("go\n")
        viewer.stdin.flush()
    for viewer in viewers.values():
        out, _ = viewer.communicate(timeout=60)
        assert viewer.returncode == 0 and out.strip() == "done"
    store = DecisionStore(path)
    for name, n in counts.items():
        assert all(store.get(f"{name}-{i}") is Decision.FRACTURE for i in range(n))


def test_two_stores_in_one_process_do_not_undo_each_other(tmp_path: Path) -> None:
    first, second = DecisionStore(tmp_path / "s.sqlite3"), DecisionStore(tmp_path / "s.sqlite3")
    first.set("a", Decision.FRACTURE)
    first.set("b", Decision.NO_FRACTURE)
    for name in "cde":
        second.set(name, Decision.UNCERTAIN)
    again = DecisionStore(tmp_path / "s.sqlite3")
    assert [again.get(n) for n in "abcde"] == [
        Decision.FRACTURE, Decision.NO_FRACTURE, *[Decision.UNCERTAIN] * 3,
    ]  # fmt: skip


def _legacy(n: int) -> bytes:
    return json.dumps({f"id-{i}": "confirmed" for i in range(n)}, indent=1).encode()


def test_decisions_json_is_migrated_once_and_kept_as_a_backup(tmp_path: Path) -> None:
    (tmp_path / "decisions.json").write_bytes(_legacy(12))
    store = DataStore(tmp_path / "results.sqlite3")
    decisions = DecisionStore(store)
    assert all(decisions.get(f"id-{i}") is Decision.CONFIRMED for i in range(12))
    assert store.notices == []
    assert (tmp_path / LEGACY_BACKUP).read_bytes() == _legacy(12)
    assert not (tmp_path / "decisions.json").exists()
    decisions.set("id-0", None)
    store.close()
    # An older version writes decisions.json again: its copy is not migrated a second time
    # (the decision cleared since stays cleared).
    (tmp_path / "decisions.json").write_bytes(_legacy(12))
    assert DecisionStore(tmp_path / "results.sqlite3").get("id-0") is None


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        (_legacy(12)[: len(_legacy(12)) // 2], 6),  # truncated to half: its whole pairs
        (b"{garb", 0),
        (b"[1,2,3]", 0),
        (b'{"id-0": "confirmed", "\xff\xfe": "rejected", "id-1": "rejected"}', 2),
    ],
    ids=["truncated", "garbage", "list", "not-utf8"],
)
def test_a_damaged_decisions_json_keeps_what_it_can_and_says_so(
    tmp_path: Path, content: bytes, kept: int
) -> None:
    (tmp_path / "decisions.json").write_bytes(content)
    store = DataStore(tmp_path / "results.sqlite3")
    decisions = DecisionStore(store)
    held = store.read("SELECT count(*) FROM decisions")[0][0]
    assert held == kept
    assert len(store.notices) == 1
    assert f"kept {kept} reader decisions" in store.notices[0].reason
    assert (tmp_path / LEGACY_BACKUP).read_bytes() == content  # nothing thrown away
    decisions.set("new", Decision.FRACTURE)  # one more Y
    assert (
        DecisionStore(tmp_path / "results.sqlite3").store.read("SELECT count(*) FROM decisions")[0][
            0
        ]
        == kept + 1
    )
    # `scan --decisions` on such a file reads it the same way, and never changes it.
    (tmp_path / "other.json").write_bytes(content)
    legacy = open_decisions(tmp_path / "other.json")
    assert legacy.store.read("SELECT count(*) FROM decisions")[0][0] == kept
    assert (tmp_path / "other.json").read_bytes() == content


def _filled_store(path: Path, n: int = 300) -> None:
    results = ResultsStore(path)
    decisions = DecisionStore(results.store)
    for i in range(n):
        heat = np.random.default_rng(i).integers(0, 255, (40, 40), dtype=np.uint8)
        results.put(StoredResult(f"id-{i}", SHA, "m", Flag.FRACTURE, 0.9, heatmap=heat))
        decisions.set(f"id-{i}", Decision.FRACTURE)
    results.store.read("PRAGMA wal_checkpoint(TRUNCATE)")
    results.close()


def _damage_pages(path: Path) -> None:
    """Every third 4 KiB page from page 3 overwritten with random bytes: the header intact."""
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for page in range(3, len(data) // 4096, 3):
        data[page * 4096 : (page + 1) * 4096] = rng.integers(0, 256, 4096, np.uint8).tobytes()
    path.write_bytes(bytes(data))


def test_a_store_with_an_intact_header_and_damaged_pages_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    _filled_store(path)
    _damage_pages(path)
    store = DataStore(path)
    results = ResultsStore(store)
    assert store.persistent
    assert len(store.notices) == 1 and "damaged" in store.notices[0].reason
    asides = sorted(tmp_path.glob("results.damaged-*.sqlite3"))
    assert len(asides) == 1 and str(asides[0]) in store.notices[0].details
    # What could be read is kept, and the store works: no endless "checking the model".
    kept = len(results.for_model(SHA))
    assert f"{kept} analysis results" in store.notices[0].reason
    assert results.put(StoredResult("fresh", SHA, "m", Flag.DOUBT, 0.5))
    assert DecisionStore(store).set("fresh", Decision.UNCERTAIN)
    assert store.read("PRAGMA quick_check") == [("ok",)]
    store.close()

    # A second damage is set aside beside the first, never over it.
    first = asides[0].read_bytes()
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100 + b"garbage" * 2000)
    again = DataStore(path)
    assert len(again.notices) == 1
    asides = sorted(tmp_path.glob("results.damaged-*.sqlite3"))
    assert len(asides) == 2 and first in {a.read_bytes() for a in asides}
    again.close()


def test_a_file_that_is_no_database_is_set_aside_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite3"
    path.write_bytes(b"not a database" * 100)
    store = DataStore(path)
    assert "kept 0 reader decisions and 0 analysis results" in store.notices[0].reason
    assert len(list(tmp_path.glob("results.damaged-*.sqlite3"))) == 1
    store.close()


def test_a_data_folder_that_cannot_be_written_gives_a_store_in_memory(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")  # the data folder's place is taken: mkdir fails
    store = DataStore(blocked / "results.sqlite3")
    assert not store.persistent
    assert "cannot be written" in store.notices[0].reason
    decisions = DecisionStore(store)
    assert decisions.set("a", Decision.FRACTURE)  # this session still works
    assert decisions.get("a") is Decision.FRACTURE


def test_a_read_only_store_shows_earlier_decisions_without_persistence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "results.sqlite3"
    DecisionStore(path).set("earlier", Decision.NO_FRACTURE)
    DataStore(path).read("PRAGMA wal_checkpoint(TRUNCATE)")
    from fracture_desktop.core import store as store_module

    def read_only(_path: Path) -> sqlite3.Connection:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(store_module, "_open_checked", read_only)
    store = DataStore(path)
    assert not store.persistent and "Decisions made before are shown" in store.notices[0].reason
    assert DecisionStore(store).get("earlier") is Decision.NO_FRACTURE
    assert not list(tmp_path.glob("*.damaged*"))  # not damage: nothing set aside


def test_a_full_disk_is_reported_once_and_never_raised(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "results.sqlite3")
    heard = []
    store.problem.connect(heard.append)
    pages = store.read("PRAGMA page_count")[0][0]
    store.read(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    results, decisions = ResultsStore(store), DecisionStore(store)
    big = np.zeros((96, 96), np.uint8)
    outcomes = [
        results.put(StoredResult(f"id-{i}", SHA, "m", Flag.FRACTURE, 0.9, heatmap=big))
        for i in range(20)
    ]
    assert not all(outcomes)
    assert len(heard) == 1 and "cannot be written" in heard[0].reason
    assert not decisions.set("x" * 5000, Decision.FRACTURE)
    assert decisions.get("x" * 5000) is Decision.FRACTURE  # held for the session


def test_a_damaged_store_in_a_folder_with_an_odd_name_is_salvaged(tmp_path: Path) -> None:
    folder = tmp_path / "Application Support #1 ?x=y"
    folder.mkdir()
    path = folder / "results.sqlite3"
    _filled_store(path)
    _damage_pages(path)
    store = DataStore(path)
    kept = len(ResultsStore(store).for_model(SHA))
    assert kept > 0 and f"{kept} analysis results" in store.notices[0].reason


def test_a_store_named_like_the_old_decisions_file_is_not_migrated_into_itself(
    tmp_path: Path,
) -> None:
    DecisionStore(tmp_path / "decisions.json").set("a", Decision.FRACTURE)
    again = DecisionStore(tmp_path / "decisions.json")
    assert again.get("a") is Decision.FRACTURE and again.store.notices == []
    assert not (tmp_path / LEGACY_BACKUP).exists()
