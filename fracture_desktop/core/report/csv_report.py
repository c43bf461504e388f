"""The CSV report: one row per image, columns documented in docs/REPORTS.md.

Written as UTF-8 with a byte-order mark: Excel reads a BOM-less file in the local code page
and garbles accented patient names, while Python (``encoding="utf-8-sig"``), pandas and
LibreOffice read the BOM transparently. Rows end in CRLF (RFC 4180).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.files import printable
from fracture_desktop.core.imaging.records import SourceKind
from fracture_desktop.core.report.deidentify import scrub
from fracture_desktop.core.report.entries import ReportContext, ReportEntry

#: Column names in order. Append new columns at the end; never rename or reorder.
COLUMNS = (
    "file_path",
    "image_identity",
    "study_instance_uid",
    "series_instance_uid",
    "sop_instance_uid",
    "patient_name",
    "patient_id",
    "patient_birth_date",
    "modality",
    "body_part",
    "view_position",
    "pixel_spacing_source",
    "probability",
    "flag",
    "threshold_fracture",
    "threshold_doubt",
    "reader_decision",
    "model_id",
    "model_version",
    "model_sha256_prefix",
    "app_version",
    "error",
    "warnings",
    "domain_score",
    "thresholds_source",
    "boxes",
    "model_card_sha256",
    "model_card",
    "domain_check",
    "reader",
)
ENCODING = "utf-8-sig"
#: Spacing column value for an image that loaded without any pixel spacing.
UNCALIBRATED = "uncalibrated"
# A cell starting with one of these is run as a formula by spreadsheets (CSV injection);
# DICOM text is untrusted input, so such cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    # File names that are not UTF-8 hold lone surrogates (PEP 383): written as \x escapes.
    value = printable(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def row(entry: ReportEntry, context: ReportContext, deidentify: bool = False) -> dict[str, str]:
    """The CSV cells of one entry, keyed by :data:`COLUMNS`."""
    record, finding, model = entry.record, entry.finding, context.model
    analysed = finding.probability is not None
    if entry.spacing_source is not None:
        spacing = entry.spacing_source.value
    else:
        spacing = UNCALIBRATED if analysed else ""
    uids = (
        (record.study_uid, record.series_uid, record.sop_instance_uid)
        if record is not None and record.kind is SourceKind.DICOM
        else ("", "", "")
    )
    cells = {
        "file_path": str(entry.path),
        "image_identity": finding.identity,
        "study_instance_uid": uids[0],
        "series_instance_uid": uids[1],
        "sop_instance_uid": uids[2],
        "patient_name": "" if deidentify or record is None else record.patient_name,
        "patient_id": "" if deidentify or record is None else record.patient_id,
        "patient_birth_date": "" if deidentify or record is None else record.patient_birth_date,
        "modality": record.modality if record else "",
        "body_part": record.body_part if record else "",
        "view_position": record.view_position if record else "",
        "pixel_spacing_source": spacing,
        "probability": _number(finding.probability),
        "flag": finding.flag.value,
        "threshold_fracture": _number(model.thresholds.fracture),
        "threshold_doubt": _number(model.thresholds.doubt),
        "reader_decision": entry.decision.value if entry.decision else "",
        "model_id": model.id,
        "model_version": model.version,
        "model_sha256_prefix": model.sha256_prefix,
        "app_version": context.app_version,
        "error": scrub(finding.error) if deidentify else finding.error,
        "warnings": "; ".join(scrub(w) if deidentify else w for w in entry.warnings),
        "domain_score": _number(finding.domain_score),
        "thresholds_source": model.thresholds_source,
        # JSON [[x0, y0, x1, y1, score], ...] in the stored image's pixels; "[]" when the
        # model found none (or has no localiser), "" when the image was not analysed.
        "boxes": json.dumps([box.as_list() for box in finding.boxes]) if analysed else "",
        "model_card_sha256": model.card_sha256,
        "model_card": model.card_status,
        "domain_check": model.domain_check,
        "reader": entry.reader if entry.decision else "",
    }
    return {key: _text(value) for key, value in cells.items()}


def write_csv(
    entries: Iterable[ReportEntry],
    path: Path | str,
    context: ReportContext,
    deidentify: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write the CSV report for ``entries`` to ``path`` atomically.

    Parameters
    ----------
    entries : iterable of ReportEntry
        One row each, in the given order.
    path : Path or str
        Destination chosen by the user; nothing is written anywhere else.
    context : ReportContext
        Model identity, thresholds and app version repeated on every row, so a row copied
        into another sheet still says where it came from.
    deidentify : bool
        Leave the patient name, ID and birth date cells empty (the columns stay), and drop
        values quoted from the file in errors and warnings (see ``report.deidentify``).
    overwrite : bool
        Replace an existing file; otherwise :class:`OutputExistsError` is raised.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    with atomic_write(path, overwrite) as f:
        csv_to(f, entries, context, deidentify)
    return path


def csv_to(
    f: BinaryIO, entries: Iterable[ReportEntry], context: ReportContext, deidentify: bool = False
) -> None:
    """Write the CSV report to the open binary file ``f`` (see :func:`write_csv`)."""
    # Rows stream to the file: a folder of 100 000 images needs no big string.
    text = io.TextIOWrapper(f, encoding=ENCODING, newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow(row(entry, context, deidentify))
    text.flush()
    text.detach()  # the binary file stays open for the caller to sync and rename
