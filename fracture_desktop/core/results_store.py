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
The results live in the data store (:mod:`fracture_desktop.core.store`), beside the reader's
decisions, one row per result: a folder of thousands of images costs one small insert each,
a write that fails (disk full, read-only folder) is reported once and never ends an analysis,
and nothing is ever written into a study folder. A result keeps everything its finding has
(flag, probability, domain score, boxes, warnings, the thresholds it was flagged with), so
that a folder's verdict (the shift test) is recomputed from what is kept after a restart.
Each scored file's path, size and modification time are kept too, as a key to its identity:
an analysis asked for before the file is hashed again still finds its result.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.findings import CARD_THRESHOLDS, Finding, Flag, Thresholds, classify
from fracture_desktop.core.imaging.image import SpacingSource
from fracture_desktop.core.imaging.records import ImageRecord, SourceKind
from fracture_desktop.core.store import STORE_FILE, DataStore, default_store_path, open_store

RESULTS_FILE = STORE_FILE
_COLUMNS = (
    "identity, model_sha256, model_label, flag, probability, warnings, spacing_source, "
    "made_at, heatmap, boxes, domain_score, thresholds_source"
)
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
    return default_store_path()


def file_key(path: Path) -> tuple[bytes, int, int] | None:
    """``(path, size, mtime_ns)`` of a file, the key to its identity; None if it is gone.

    The path as bytes: a name that is not UTF-8 is a valid key too.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return os.fsencode(path), stat.st_size, stat.st_mtime_ns


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
    domain_score : float or None
        The domain check's score (above 1: outside); None when the model has none.
    thresholds_source : str
        The thresholds ``flag`` was made with: the model card's or a site profile's.
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
    domain_score: float | None = None
    thresholds_source: str = CARD_THRESHOLDS

    @property
    def heat(self) -> np.ndarray | None:
        """The kept heatmap as [0, 1] float32 (to be stretched to the image's shape)."""
        return None if self.heatmap is None else self.heatmap.astype(np.float32) / 255.0

    def finding(self, path: Path, thresholds: Thresholds | None = None) -> Finding:
        """This result as the :class:`Finding` of the image now at ``path``.

        With ``thresholds`` (those in use now), the flag is made again from the kept
        probability and domain score, so that a result kept under other thresholds (the
        card's, an earlier site profile's) is flagged as a new analysis would flag it.
        """
        # A source this version does not know (a newer app wrote it) reads as not recorded.
        known = {source.value for source in SpacingSource}
        spacing = SpacingSource(self.spacing_source) if self.spacing_source in known else None
        flag = self.flag
        if thresholds is not None:
            flag = classify(self.probability, thresholds, self.domain_score)
        return Finding(
            path,
            self.identity,
            flag,
            self.probability,
            "",
            spacing,
            self.warnings,
            self.boxes,
            self.domain_score,
        )


class ResultsStore:
    """Results by image identity and model sha256, in the data store.

    Safe to use from several threads (the analysis worker writes, the GUI thread reads).

    Parameters
    ----------
    store : DataStore or Path, optional
        The data store (shared with the decisions), or the SQLite file of one; None: the
        user's own.
    """

    def __init__(self, store: DataStore | Path | None = None) -> None:
        self.store = open_store(store)
        self.path = self.store.path

    def close(self) -> None:
        self.store.close()

    def put(self, result: StoredResult, path: Path | None = None) -> bool:
        """Keep ``result``, replacing the same model's earlier result for the same image.

        ``path``, the file it was scored from, is remembered as a key to its identity.
        Returns False when the store could not be written (it says so once).
        """
        kept = self.store.write(
            f"INSERT OR REPLACE INTO results ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                result.domain_score,
                result.thresholds_source,
            ),
        )
        key = file_key(path) if path is not None else None
        if kept and key is not None:
            self.store.write(
                "INSERT OR REPLACE INTO file_identities (path, size, mtime_ns, identity) "
                "VALUES (?, ?, ?, ?)",
                (*key, result.identity),
            )
        return kept

    def put_finding(
        self,
        finding: Finding,
        model_sha256: str,
        model_label: str,
        warnings: Iterable[str] = (),
        spacing_source: str | None = None,
        thresholds_source: str = CARD_THRESHOLDS,
        heatmap: np.ndarray | None = None,
    ) -> bool:
        """Keep a scored finding; one without a probability or identity is not kept.

        Returns
        -------
        bool
            True when it was kept.
        """
        if finding.probability is None or not finding.identity:
            return False
        if spacing_source is None and finding.spacing_source is not None:
            spacing_source = str(finding.spacing_source)
        return self.put(
            StoredResult(
                finding.identity,
                model_sha256,
                model_label,
                finding.flag,
                finding.probability,
                tuple(warnings) or finding.warnings,
                spacing_source,
                time.time(),
                small_heatmap(heatmap) if heatmap is not None and finding.flag.is_flagged else None,
                finding.boxes,
                finding.domain_score,
                thresholds_source,
            ),
            finding.path,
        )

    def identity_of(self, path: Path) -> str | None:
        """The identity kept for the file at ``path``, while its size and mtime are unchanged."""
        key = file_key(path)
        if key is None:
            return None
        rows = self.store.read(
            "SELECT identity FROM file_identities WHERE path = ? AND size = ? AND mtime_ns = ?",
            key,
        )
        return str(rows[0][0]) if rows else None

    def stored_for(self, record: ImageRecord, model_sha256: str) -> StoredResult | None:
        """The result ``model_sha256`` made for ``record``'s file, found without hashing it:
        by the file's kept path, size and mtime.

        For DICOM the kept identity must also be the file's SOP Instance UID. The UID alone
        is not enough: another file can carry it (a damaged or re-saved copy), and would
        take this image's result without being decoded. A copy elsewhere is analysed again.
        """
        identity = self.identity_of(record.path) or ""
        if record.kind is SourceKind.DICOM and identity != record.sop_instance_uid:
            return None
        return self.get(identity, model_sha256) if identity else None

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
        rows = self.store.read(f"SELECT {_COLUMNS} FROM results WHERE {where}", args)
        results = []
        for identity, sha, label, flag, p, w, spacing, made, heat, boxes, domain, source in rows:
            try:
                results.append(
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
                        None if domain is None else float(domain),
                        source or CARD_THRESHOLDS,
                    )
                )
            except (ValueError, TypeError):
                continue  # a row a newer version wrote, or one damaged: analysed again
        return results
