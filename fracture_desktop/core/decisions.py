"""The reader's own call about each image, kept in the user's data store.

A decision says what the reader concluded about the image (fracture, no fracture,
uncertain), recorded beside the model's flag, so that a fracture the model missed is as
recordable as a false alarm. Versions before this one recorded whether the reader confirmed
or rejected the model's flag: those decisions are still read and shown as they were.

Decisions are keyed by image identity (SOP Instance UID, or a content hash for plain
pictures) so they survive a folder being moved, and live in the data store
(:mod:`fracture_desktop.core.store`): one row per image, written in its own transaction, so
two viewers on one profile never undo each other's decisions. Never in a study folder.
"""

from __future__ import annotations

import enum
import threading
import time
from pathlib import Path

from fracture_desktop.core.store import MEMORY, DataStore, open_store, read_legacy_decisions


class Decision(enum.StrEnum):
    """What the reader decided about an image."""

    FRACTURE = "fracture"
    NO_FRACTURE = "no fracture"
    UNCERTAIN = "uncertain"
    #: Recorded by earlier versions: the reader agreed with the model's flag ...
    CONFIRMED = "confirmed"
    #: ... or disagreed with it. Read and shown; never recorded any more.
    REJECTED = "rejected"

    @property
    def is_legacy(self) -> bool:
        return self in (Decision.CONFIRMED, Decision.REJECTED)


#: The calls a reader makes now, in menu order.
READER_CALLS = (Decision.FRACTURE, Decision.NO_FRACTURE, Decision.UNCERTAIN)
_KNOWN = frozenset(Decision._value2member_map_)


class DecisionStore:
    """``identity -> decision`` in the data store.

    Parameters
    ----------
    store : DataStore or Path, optional
        The data store (shared with the results), or the SQLite file of one; None: the
        user's own.
    reader : str
        The reader's name, recorded with each decision they make (from the viewer's
        settings).

    A decision whose write fails (full disk, read-only folder) is still held for this
    session, and the store announces the failure once.
    """

    def __init__(self, store: DataStore | Path | None = None, reader: str = "") -> None:
        self.store = open_store(store)
        self.reader = reader
        self._lock = threading.Lock()
        #: Decisions of this session whose write failed: shown, not kept.
        self._unsaved: dict[str, Decision | None] = {}

    @classmethod
    def from_json(cls, path: Path) -> DecisionStore:
        """A store in memory holding an old ``decisions.json`` (read, never changed): what
        ``scan --decisions FILE.json`` prints. A damaged file gives what can be read."""
        store = DecisionStore(DataStore(Path(MEMORY)))
        decisions, _damage = read_legacy_decisions(Path(path))
        store.store.insert_legacy(decisions)
        return store

    def get(self, identity: str) -> Decision | None:
        with self._lock:
            if identity in self._unsaved:
                return self._unsaved[identity]
        rows = self.store.read("SELECT decision FROM decisions WHERE identity = ?", (identity,))
        value = str(rows[0][0]) if rows else ""
        return Decision(value) if value in _KNOWN else None

    def reader_of(self, identity: str) -> str:
        """The name of the reader who made the decision about ``identity`` ("" if unknown)."""
        rows = self.store.read("SELECT reader FROM decisions WHERE identity = ?", (identity,))
        return str(rows[0][0]) if rows else ""

    def set(self, identity: str, decision: Decision | None) -> bool:
        """Record ``decision`` for ``identity``; ``None`` clears it.

        Returns
        -------
        bool
            True when it was kept in the store; False when it holds for this session only.
        """
        if decision is None:
            kept = self.store.write("DELETE FROM decisions WHERE identity = ?", (identity,))
        else:
            kept = self.store.write(
                "INSERT OR REPLACE INTO decisions (identity, decision, reader, made_at) "
                "VALUES (?, ?, ?, ?)",
                (identity, Decision(decision).value, self.reader, time.time()),
            )
        with self._lock:
            if kept:
                self._unsaved.pop(identity, None)
            else:
                self._unsaved[identity] = decision
        return kept


def open_decisions(path: Path | None, reader: str = "") -> DecisionStore:
    """The decisions ``scan --decisions`` names: a data store, an old ``decisions.json``
    (read only), or the user's own store when None."""
    if path is not None and Path(path).suffix.lower() == ".json":
        return DecisionStore.from_json(Path(path))
    return DecisionStore(path, reader)
