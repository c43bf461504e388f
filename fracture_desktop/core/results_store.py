"""Analysis results kept between sessions, in the user's data directory.

A result is keyed by the image's identity (SOP Instance UID, or a content hash for plain
pictures: see :func:`~fracture_desktop.core.imaging.identity.image_identity`) and by the sha256
of the model weights that made it. Reopening a folder shows what was computed before without
running the model, a report reuses it, and an interrupted analysis resumes with the images
still lacking one. Another model's results never stand in for the current model's: a model
change invalidates them (they are still found, by :meth:`ResultsStore.by_other_models`, so the
viewer can show them marked as made by another model).

Only scored images are kept: a file that could not be read may be readable next time. A
flagged image keeps a small copy of its Grad-CAM map too, so that a PDF report can draw its
key image without running the model again.
The store is one SQLite file (the standard library's ``sqlite3``), written one row per result,
so a folder of thousands of images costs one small insert each rather than a rewrite of the
whole file; it is never written into a study folder.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.image import SpacingSource
from fracture_desktop.core.paths import user_data_dir

RESULTS_FILE = "results.sqlite3"
_SCHEMA = """
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
    PRIMARY KEY (identity, model_sha256)
)
"""
#: Longest side of a kept heatmap: Grad-CAM maps are smooth (16-32 cells across), so a
#: small copy loses nothing a report's key image shows, and costs a few kB.
HEATMAP_SIDE = 96


def small_heatmap(heat: np.ndarray) -> np.ndarray:
    """A kept copy of a [0, 1] heatmap: uint8, at most :data:`HEATMAP_SIDE` pixels a side."""
    step = max(1, math.ceil(max(heat.shape) / HEATMAP_SIDE))
    return np.round(np.clip(heat[::step, ::step], 0.0, 1.0) * 255.0).astype(np.uint8)


def _heatmap_blob(heat: np.ndarray | None) -> bytes | None:
    if heat is None:
        return None
    buffer = io.BytesIO()
    np.save(buffer, heat, allow_pickle=False)
    return buffer.getvalue()


def _heatmap_array(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.load(io.BytesIO(blob), allow_pickle=False)


def default_results_path() -> Path:
    return user_data_dir() / RESULTS_FILE


@dataclass(frozen=True)
class StoredResult:
    """One image's analysis by one model: what the viewer shows and a report prints.

    Attributes
    ----------
    identity : str
        The image's identity.
    model_sha256 : str
        The sha256 of the weights that scored it (the model card's).
    model_label : str
        The model's ``id version (sha prefix)``, for "made by another model" notes.
    flag : Flag
        The flag from the card's thresholds at the time.
    probability : float
        The calibrated probability of fracture.
    warnings : tuple of str
        The image's decode warnings (truncated, partial, uncalibrated...).
    spacing_source : str or None
        Where its mm came from, None when uncalibrated.
    made_at : float
        Seconds since the epoch.
    heatmap : np.ndarray or None
        A flagged image's Grad-CAM map from :func:`small_heatmap` (uint8); None otherwise.
    boxes : tuple of Box
        The localiser's boxes (none without a localiser).
    """

    identity: str
    model_sha256: str
    model_label: str
    flag: Flag
    probability: float
    warnings: tuple[str, ...] = ()
    spacing_source: str | None = None
    made_at: float = 0.0
    heatmap: np.ndarray | None = field(default=None, compare=False, repr=False)
    boxes: tuple[Box, ...] = ()

    @property
    def heat(self) -> np.ndarray | None:
        """The kept heatmap as [0, 1] float32 (to be stretched to the image's shape)."""
        return None if self.heatmap is None else self.heatmap.astype(np.float32) / 255.0

    def finding(self, path: Path) -> Finding:
        """This result as the :class:`Finding` of the image now at ``path``."""
        # A source this version does not know (a newer app wrote it) reads as not recorded.
        known = {source.value for source in SpacingSource}
        spacing = SpacingSource(self.spacing_source) if self.spacing_source in known else None
        return Finding(
            path,
            self.identity,
            self.flag,
            self.probability,
            "",
            spacing,
            self.warnings,
            self.boxes,
        )


class ResultsStore:
    """Results by image identity and model sha256, in one SQLite file.

    Safe to use from several threads (the analysis worker writes, the GUI thread reads).

    Parameters
    ----------
    path : Path, optional
        Defaults to ``results.sqlite3`` in the user data directory; tests pass a temp file.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_results_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:
            # A damaged file only costs recomputation: set it aside (for a bug report) and
            # start afresh rather than refuse to open the viewer.
            self.path.replace(self.path.with_suffix(".damaged"))
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        # One connection shared under the lock: sqlite3 refuses cross-thread use by default.
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
            if "heatmap" not in columns:  # a store written before heatmaps were kept
                db.execute("ALTER TABLE results ADD COLUMN heatmap BLOB")
            if "boxes" not in columns:  # ... or before boxes were
                db.execute("ALTER TABLE results ADD COLUMN boxes TEXT NOT NULL DEFAULT '[]'")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, result: StoredResult) -> None:
        """Keep ``result``, replacing the same model's earlier result for the same image."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO results (identity, model_sha256, model_label, flag, "
                "probability, warnings, spacing_source, made_at, heatmap, boxes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result.identity,
                    result.model_sha256,
                    result.model_label,
                    result.flag.value,
                    result.probability,
                    json.dumps(list(result.warnings)),
                    result.spacing_source,
                    result.made_at or time.time(),
                    _heatmap_blob(result.heatmap),
                    json.dumps([box.as_list() for box in result.boxes]),
                ),
            )

    def put_finding(
        self,
        finding: Finding,
        model_sha256: str,
        model_label: str,
        warnings: Iterable[str] = (),
        spacing_source: str | None = None,
    ) -> bool:
        """Keep a scored finding; one without a probability or identity is not kept.

        Returns
        -------
        bool
            True when it was kept.
        """
        if finding.probability is None or not finding.identity:
            return False
        self.put(
            StoredResult(
                finding.identity,
                model_sha256,
                model_label,
                finding.flag,
                finding.probability,
                tuple(warnings),
                spacing_source,
                boxes=finding.boxes,
            )
        )
        return True

    def for_model(self, model_sha256: str) -> dict[str, StoredResult]:
        """Every result ``model_sha256`` made, by identity."""
        return {r.identity: r for r in self._select("model_sha256 = ?", model_sha256)}

    def by_other_models(self, model_sha256: str) -> dict[str, StoredResult]:
        """For each image, the most recent result of a model other than ``model_sha256``."""
        latest: dict[str, StoredResult] = {}
        for result in self._select("model_sha256 != ?", model_sha256):
            if result.identity not in latest or result.made_at > latest[result.identity].made_at:
                latest[result.identity] = result
        return latest

    def get(self, identity: str, model_sha256: str) -> StoredResult | None:
        rows = self._select("identity = ? AND model_sha256 = ?", identity, model_sha256)
        return rows[0] if rows else None

    def _select(self, where: str, *args: str) -> list[StoredResult]:
        with self._lock:
            rows = self._db.execute(
                "SELECT identity, model_sha256, model_label, flag, probability, warnings, "
                f"spacing_source, made_at, heatmap, boxes FROM results WHERE {where}",
                args,
            ).fetchall()
        return [
            StoredResult(
                identity,
                sha,
                label,
                Flag(flag),
                float(p),
                tuple(json.loads(w)),
                spacing,
                made,
                _heatmap_array(heat),
                tuple(Box(*values) for values in json.loads(boxes)),
            )
            for identity, sha, label, flag, p, w, spacing, made, heat, boxes in rows
        ]
