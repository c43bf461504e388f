"""How a report entry's facts read in the PDF: flag colours, probability, paths, patient.

Small text helpers shared by the PDF report's sections; the markup they return is for
reportlab Paragraphs (XML-escaped, with ``<font>`` tags).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib import colors

from fracture_desktop.core.files import printable
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.report.deidentify import scrub
from fracture_desktop.core.report.entries import ReportEntry
from fracture_desktop.core.report.pdf_pages import MUTED

FLAG_COLOURS = {
    Flag.FRACTURE: colors.HexColor("#C0392B"),
    Flag.DOUBT: colors.HexColor("#B9770E"),
    Flag.NO_FRACTURE: colors.HexColor("#1E8449"),
    Flag.OUTSIDE_DOMAIN: colors.HexColor("#6C5B7B"),
    Flag.NOT_ANALYSED: colors.HexColor("#7B8794"),
}
NOT_REVIEWED = "not reviewed"
NONE = "\u2013"  # an en dash marks an empty fact
#: Longest text of one table cell. A cell that does not fit a page makes reportlab give up
#: (LayoutError) on the whole document: a path 100 folders deep wraps to 90 lines. The CSV
#: keeps the whole text.
CELL_CHARS = 240
#: Longest source folder in the header.
SOURCE_CHARS = 400
ELLIPSIS = " \u2026 "


def elided(text: str, limit: int = CELL_CHARS) -> str:
    """``text`` cut to ``limit`` characters in the middle, where a path is least telling:
    its start (the top folders) and its end (the file name) stay."""
    if len(text) <= limit:
        return text
    head = (limit - len(ELLIPSIS)) // 3
    tail = limit - len(ELLIPSIS) - head
    return text[:head] + ELLIPSIS + text[-tail:]


def escape(text: str) -> str:
    """Text for a Paragraph: XML-escaped, with the bytes of non-UTF-8 file names as escapes."""
    return xml_escape(printable(text))


def flag_markup(flag: Flag, bold: bool = True) -> str:
    font = "Helvetica-Bold" if bold else "Helvetica"
    return f'<font name="{font}" color="{FLAG_COLOURS[flag].hexval()}">{escape(flag.value)}</font>'


def probability_markup(entry: ReportEntry) -> str:
    """The probability, greyed for an image outside the domain: kept, but not to be read."""
    p = entry.finding.probability
    if p is None:
        return ""
    if entry.flag is Flag.OUTSIDE_DOMAIN:
        return f'<font color="{MUTED.hexval()}">{p:.3f}</font>'
    return f"{p:.3f}"


def reader_decision(entry: ReportEntry) -> str:
    """The reader's call (and who made it), beside the model's flag."""
    if entry.decision is None:
        return NOT_REVIEWED
    return f"{entry.decision.value} ({entry.reader})" if entry.reader else entry.decision.value


def display_path(path: Path, source: str) -> str:
    """Paths relative to the analysed folder: shorter, and the folder is in the header;
    elided past :data:`CELL_CHARS`."""
    try:
        # abspath, not resolve: a linked file is shown where the user put it.
        return elided(Path(os.path.abspath(path)).relative_to(source).as_posix())
    except ValueError:
        return elided(str(path))


def printed_notes(texts: Sequence[str], deidentify: bool) -> list[str]:
    """Errors and warnings as printed: without values quoted from the file when de-identified,
    each elided past :data:`CELL_CHARS`."""
    return [elided(scrub(t) if deidentify else t) for t in texts]


def patient_text(entry: ReportEntry) -> str:
    record = entry.record
    if record is None:
        return ""
    parts = [record.patient_name.replace("^", " ").strip(), record.patient_id]
    if record.patient_birth_date:
        parts.append(f"born {record.patient_birth_date}")
    return " · ".join(p for p in parts if p)


def acquisition_text(entry: ReportEntry) -> str:
    record = entry.record
    if record is None:
        return ""
    return " / ".join(p for p in (record.modality, record.body_part, record.view_position) if p)
