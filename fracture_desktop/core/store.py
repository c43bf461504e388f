"""The user's data store: reader decisions and analysis results in one transactional file.

One SQLite file (``results.sqlite3`` in the user data directory) holds both, in write-ahead
log mode (WAL: readers never block the writer, a crash never leaves half a write) with a busy
timeout, so that two viewers, or a viewer and a ``scan``, share it: SQLite lets one writer at
a time in, each change is one row written in its own transaction, and nobody's change is
rewritten from a stale copy. What it promises, and what happens to a damaged or read-only
data folder, is in docs/REPORTS.md ("What the data store keeps").

At open the file is checked (``PRAGMA quick_check``, which reads every page: a valid header
over garbage pages is found too). A damaged file is set aside under a timestamped name that
never replaces an earlier one, what can still be read is copied into a fresh store, and a
:class:`StoreNotice` says what was kept and what was lost. A folder that cannot be written
(read-only, full, no permission) gives a store in memory: the viewer runs on without
persistence, and the notice says so. A write that fails later is reported once, never raised:
an analysis never ends because its result could not be kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fracture_desktop.core.events import Event
from fracture_desktop.core.paths import user_data_dir

STORE_FILE = "results.sqlite3"
#: The path of a store that lives in memory only.
MEMORY = ":memory:"
#: The decisions file of versions before the store; migrated once, then kept as a backup.
LEGACY_DECISIONS = "decisions.json"
LEGACY_BACKUP = "decisions.json.bak"
#: How long a writer waits for another process's write to end before giving up.
BUSY_SECONDS = 10.0
#: SQLite primary result codes that mean the file itself is damaged (not merely unwritable).
_DAMAGE_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
#: Rows read one by one, at most, from a damaged table whose scan fails part-way.
_SALVAGE_ROWS = 1_000_000
#: Missing rows in a row after which a table whose end is unknown is taken to have ended.
_SALVAGE_GAP = 2_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    identity TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    model_label TEXT NOT NULL,
    flag TEXT NOT NULL,
    probability REAL NOT NULL,
    warnings TEXT NOT NULL,
    spacing_source TEXT,
    made_at REAL NOT NULL,
    heatmap BLOB,
    boxes TEXT NOT NULL DEFAULT '[]',
    domain_score REAL,
    thresholds_source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (identity, model_sha256)
);
CREATE TABLE IF NOT EXISTS decisions (
    identity TEXT PRIMARY KEY,
    decision TEXT NOT NULL,
    reader TEXT NOT NULL DEFAULT '',
    made_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS file_identities (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    identity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: Columns added since the first stores were written: (table, column, definition).
_ADDED_COLUMNS = (
    ("results", "heatmap", "BLOB"),
    ("results", "boxes", "TEXT NOT NULL DEFAULT '[]'"),
    ("results", "domain_score", "REAL"),
    ("results", "thresholds_source", "TEXT NOT NULL DEFAULT ''"),
)
_TABLES = ("decisions", "results", "file_identities", "meta")
#: A legacy decision as it appears in the JSON text: salvaged from a truncated file.
_LEGACY_PAIR = re.compile(r'"((?:[^"\\]|\\.)+)"\s*:\s*"((?:[^"\\]|\\.)*)"')


def default_store_path() -> Path:
    return user_data_dir() / STORE_FILE


@dataclass(frozen=True)
class StoreNotice:
    """Something the reader must be told about the data store: a short reason and details."""

    reason: str
    details: str = ""


class _Damaged(Exception):
    """The store file is damaged (internal: it is set aside and a fresh one made)."""


def _is_damage(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _DAMAGE_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
    # One connection shared under a lock: sqlite3 refuses cross-thread use by default.
    db = sqlite3.connect(
        target, timeout=BUSY_SECONDS, check_same_thread=False, isolation_level=None, uri=uri
    )
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
    return db


def _read_only_uri(path: Path) -> str:
    # as_uri percent-encodes: a folder named "Application Support" or "a?b#c" stays one path.
    return Path(path).absolute().as_uri() + "?mode=ro"


def _create_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    for table, column, definition in _ADDED_COLUMNS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:  # a store written by an earlier version
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _open_checked(path: Path) -> sqlite3.Connection:
    """Open ``path``, check every page, switch to WAL and make the tables.

    Raises
    ------
    _Damaged
        The file is damaged.
    sqlite3.Error
        It cannot be opened or written (read-only, full, locked for longer than the timeout).
    """
    db = _connect(str(path))
    try:
        check = [row[0] for row in db.execute("PRAGMA quick_check(20)")]
        if check != ["ok"]:
            raise _Damaged(" ".join(str(line) for line in check)[:300])
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at each checkpoint
        _create_schema(db)
    except sqlite3.Error as exc:
        db.close()
        if _is_damage(exc):
            raise _Damaged(str(exc)) from exc
        raise
    except _Damaged:
        db.close()
        raise
    return db


def _salvage(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each table that can still be read from a damaged store."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    try:
        db = _connect(_read_only_uri(path), uri=True)
    except sqlite3.Error:
        return rows
    try:
        for table in _TABLES:
            rows[table] = _salvage_table(db, table)
    finally:
        db.close()
    return rows


def _salvage_table(db: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    try:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    except sqlite3.Error:
        return []
    if not columns:
        return []
    select = f"SELECT {', '.join(columns)} FROM {table}"
    try:
        return [_named(columns, row) for row in db.execute(select)]
    except sqlite3.Error:
        pass
    # A scan that stops at a damaged page: read row by row, skipping the lost ones, until
    # the last row (or, when even that cannot be asked, a long run of missing rows).
    try:
        last = int(db.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0)
    except sqlite3.Error:
        last = _SALVAGE_ROWS
    found, missed, rowid = [], 0, 0
    while rowid < last and missed < _SALVAGE_GAP:
        rowid += 1
        try:
            row = db.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.Error:
            row = None
        missed = 0 if row is not None else missed + 1
        if row is not None:
            found.append(_named(columns, row))
    return found


def _named(columns: Sequence[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Kept with their column names, so that an older store's rows fit the current tables.
    return tuple(zip(columns, row, strict=True))


def _aside_name(path: Path) -> Path:
    """``results.damaged-20261206T070102Z.sqlite3``, never the name of an earlier one."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    candidate = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.damaged-{stamp}-{n}{path.suffix}")
    return candidate


def read_legacy_decisions(path: Path) -> tuple[dict[str, str], str]:
    """The decisions of a ``decisions.json`` written before the store, and what was wrong.

    A damaged file gives what can be read: a truncated one its complete pairs, one that is
    not UTF-8 the pairs that are, one that is not a JSON object nothing. Never raises.

    Returns
    -------
    dict of str to str
        ``identity -> decision`` (values unchecked).
    str
        Empty when the file was whole (or absent), else what was wrong with it.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, ""
    except OSError as exc:
        return {}, f"it cannot be read ({exc.strerror or exc})"
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        text = data.decode("utf-8", "replace")
        pairs = {k: v for k, v in _LEGACY_PAIR.findall(text) if "\ufffd" not in k + v}
        return pairs, "it is damaged (cut short, or not UTF-8 JSON)"
    if not isinstance(raw, dict):
        return {}, f"it holds a JSON {type(raw).__name__}, not a table of decisions"
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}, ""


class DataStore:
    """The user's store of decisions and results: one SQLite file, safe across processes.

    Safe to use from several threads (the analysis worker writes results, the GUI thread
    decisions): one connection, under a lock. Each write is one statement in its own
    transaction; a write that fails (disk full, folder made read-only) returns False and is
    announced once through :attr:`problem`.

    Parameters
    ----------
    path : Path, optional
        The SQLite file; defaults to ``results.sqlite3`` in the user data directory. A
        ``decisions.json`` beside it (from earlier versions) is migrated into it once and
        renamed ``decisions.json.bak``.

    Attributes
    ----------
    persistent : bool
        False when the folder could not be written: the store lives in memory (holding what
        the file held, when it could be read) and nothing outlives the session.
    notices : list of StoreNotice
        What the reader must be told about opening it (damage set aside, no persistence,
        a damaged legacy file) and any failed write since.
    problem : Event[StoreNotice]
        Fires on the thread that wrote, the first time a write fails.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_store_path()
        self.persistent = True
        self.notices: list[StoreNotice] = []
        self.problem: Event[StoreNotice] = Event()
        self._write_failed = False
        self._lock = threading.RLock()
        if str(path) == MEMORY:  # a scratch store (``scan --decisions FILE.json``)
            self._db = _connect(MEMORY)
            _create_schema(self._db)
            return
        self._db = self._open()
        self._migrate_legacy(self.path.parent / LEGACY_DECISIONS)

    # -- opening ----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return _open_checked(self.path)
        except _Damaged as exc:
            try:
                return self._replace_damaged(str(exc))
            except (OSError, sqlite3.Error, _Damaged) as again:
                return self._in_memory(again)
        except (OSError, sqlite3.Error) as exc:
            return self._in_memory(exc)

    def _replace_damaged(self, why: str) -> sqlite3.Connection:
        """Set the damaged file aside, make a fresh one, copy into it what can be read."""
        salvaged = _salvage(self.path)
        aside = _aside_name(self.path)
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):  # the log belongs to the file set aside
            log = self.path.with_name(self.path.name + suffix)
            if log.exists():
                os.replace(log, aside.with_name(aside.name + suffix))
        db = _open_checked(self.path)
        kept = {table: self._copy_rows(db, table, rows) for table, rows in salvaged.items()}
        self.notices.append(
            StoreNotice(
                f"Your data store was damaged: kept {kept.get('decisions', 0)} reader "
                f"decisions and {kept.get('results', 0)} analysis results that could still be "
                "read; anything else in it is lost (images without a result are analysed "
                "again)",
                f"The damaged file was set aside as {aside} ({why}).",
            )
        )
        return db

    @staticmethod
    def _copy_rows(db: sqlite3.Connection, table: str, rows: list[tuple[Any, ...]]) -> int:
        known = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        kept = 0
        for row in rows:
            pairs = [(name, value) for name, value in row if name in known]
            names = ", ".join(name for name, _ in pairs)
            marks = ", ".join("?" for _ in pairs)
            try:
                db.execute(
                    f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})",
                    [value for _, value in pairs],
                )
                kept += 1
            except sqlite3.Error:
                continue  # a row damaged past use (a NULL where a value is required)
        return kept

    def _in_memory(self, exc: BaseException) -> sqlite3.Connection:
        """A store in memory, holding what the file holds when it can be read."""
        self.persistent = False
        db = _connect(MEMORY)
        shown = ""
        try:
            # immutable: no lock or log file is made, which a read-only folder would refuse.
            source = _connect(_read_only_uri(self.path) + "&immutable=1", uri=True)
            try:
                source.backup(db)
                shown = " Decisions made before are shown."
            finally:
                source.close()
        except sqlite3.Error:
            pass  # no readable file: start empty
        try:
            _create_schema(db)
        except sqlite3.Error:  # the copy is damaged: start empty after all
            db.close()
            db = _connect(MEMORY)
            _create_schema(db)
            shown = ""
        why = getattr(exc, "strerror", None) or str(exc)
        self.notices.append(
            StoreNotice(
                f"Your data folder cannot be written ({why}): reader decisions and analysis "
                f"results of this session will not be kept.{shown}",
                f"Data store: {self.path}",
            )
        )
        return db

    def _migrate_legacy(self, legacy: Path) -> None:
        """Move the decisions of a ``decisions.json`` into the store, once, keeping the file
        as ``decisions.json.bak``."""
        if not legacy.exists() or legacy.resolve() == self.path.resolve():
            return  # none, or the store itself (named like the old file)
        decisions, damage = read_legacy_decisions(legacy)
        migrated = False
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")  # two processes starting: one migrates
                try:
                    done = self._db.execute(
                        "SELECT value FROM meta WHERE key = 'legacy_decisions'"
                    ).fetchone()
                    if done is None:
                        self.insert_legacy(decisions)
                        self._db.execute(
                            "INSERT INTO meta (key, value) VALUES ('legacy_decisions', ?)",
                            (json.dumps({"file": str(legacy), "count": len(decisions)}),),
                        )
                        migrated = True
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._report(exc)
                return
        if migrated and self.persistent:
            # Where it cannot be renamed it stays; the store remembers it was migrated.
            with contextlib.suppress(OSError):
                os.replace(legacy, legacy.with_name(LEGACY_BACKUP))
        if migrated and damage:
            self.notices.append(
                StoreNotice(
                    f"Your decisions file was damaged: kept {len(decisions)} reader decisions "
                    "that could be read; the rest are lost",
                    f"{legacy}: {damage}. The file is kept as {legacy.with_name(LEGACY_BACKUP)}.",
                )
            )

    def insert_legacy(self, decisions: dict[str, str]) -> None:
        """Add old ``identity -> decision`` pairs (the caller holds the transaction)."""
        now = time.time()
        for identity, decision in decisions.items():
            self._db.execute(
                "INSERT OR IGNORE INTO decisions (identity, decision, made_at) VALUES (?, ?, ?)",
                (identity, decision, now),
            )

    # -- reading and writing ----------------------------------------------------------------

    def read(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query; none when the store cannot be read (reported once)."""
        with self._lock:
            try:
                return self._db.execute(sql, tuple(args)).fetchall()
            except (sqlite3.Error, ValueError) as exc:
                self._report(exc)
                return []

    def write(self, sql: str, args: Iterable[Any] = ()) -> bool:
        """Run one change in its own transaction; False (reported once) when it failed."""
        with self._lock:
            try:
                self._db.execute(sql, tuple(args))
                return True
            except (sqlite3.Error, ValueError) as exc:  # ValueError: text it cannot encode
                self._report(exc)
                return False

    def _report(self, exc: Exception) -> None:
        if self._write_failed:
            return
        self._write_failed = True
        notice = StoreNotice(
            f"Your data store cannot be written ({exc}): new decisions and results are kept "
            "for this session only",
            f"Data store: {self.path}",
        )
        self.notices.append(notice)
        self.problem.emit(notice)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(store: DataStore | Path | str | None) -> DataStore:
    """``store`` itself, or a :class:`DataStore` on the file it names (None: the user's)."""
    return store if isinstance(store, DataStore) else DataStore(Path(store) if store else None)
