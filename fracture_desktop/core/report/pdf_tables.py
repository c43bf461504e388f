"""The PDF report's tables of images: every image, and those outside the model's domain."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer, Table, TableStyle

from fracture_desktop.core.findings import Flag
from fracture_desktop.core.report.entries import ReportContext, ReportEntry
from fracture_desktop.core.report.pdf_facts import (
    acquisition_text,
    display_path,
    elided,
    escape,
    flag_markup,
    patient_text,
    printed_notes,
    probability_markup,
    reader_decision,
)
from fracture_desktop.core.report.pdf_pages import BODY_WIDTH, INK, MUTED, SHADE

#: Room a table's heading, its note and first rows need at the foot of a page.
TABLE_START = 35 * mm


def _head_row(head: Sequence[str], st: dict[str, ParagraphStyle]) -> list[object]:
    return [Paragraph(f"<b>{h}</b>", st["cell"]) for h in head]


def _listing(
    rows: list[list[object]], widths: list[float], extra: Sequence[tuple[object, ...]] = ()
) -> Table:
    """A table of images: the head repeated on each page, ruled under, rows shaded in turn."""
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, SHADE]),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                *extra,
            ]
        )
    )
    return table


def all_images_table(
    entries: Sequence[ReportEntry],
    context: ReportContext,
    deidentify: bool,
    st: dict[str, ParagraphStyle],
) -> Table:
    head = ["#", "File", "Acquisition", "p", "Flag", "Reader", "Note"]
    rows = [_head_row(head, st)]
    for number, entry in enumerate(entries, start=1):
        file_text = escape(display_path(entry.path, context.source))
        patient = "" if deidentify else patient_text(entry)
        if patient:
            file_text += f'<br/><font color="{MUTED.hexval()}">{escape(patient)}</font>'
        notes = (entry.finding.error,) if entry.finding.error else entry.warnings
        note = elided("; ".join(printed_notes(notes, deidentify)))
        rows.append(
            [
                Paragraph(str(number), st["cell"]),
                Paragraph(file_text, st["cell"]),
                Paragraph(escape(acquisition_text(entry)), st["cell"]),
                Paragraph(probability_markup(entry), st["cell_right"]),
                Paragraph(flag_markup(entry.flag, bold=entry.is_flagged), st["cell"]),
                Paragraph(escape(reader_decision(entry) if entry.decision else ""), st["cell"]),
                Paragraph(escape(note), st["cell"]),
            ]
        )
    widths = [9 * mm, 62 * mm, 27 * mm, 12 * mm, 20 * mm, 17 * mm]
    widths.append(BODY_WIDTH - sum(widths))
    compact = [
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    return _listing(rows, widths, compact)


def table_start() -> CondPageBreak:
    """Goes before a table's heading: a new page unless the heading, its note and the
    table's first rows fit on this one (a long table then splits across pages as usual)."""
    return CondPageBreak(TABLE_START)


def outside_section(
    numbered: Sequence[tuple[int, ReportEntry]],
    context: ReportContext,
    st: dict[str, ParagraphStyle],
) -> list[Flowable]:
    """Images outside the model's domain: listed with their domain score, never flagged."""
    outside = [(n, e) for n, e in numbered if e.flag is Flag.OUTSIDE_DOMAIN]
    if not outside:
        return []
    rows = [_head_row(("#", "File", "Domain score", "p"), st)]
    for number, entry in outside:
        score = entry.finding.domain_score
        rows.append(
            [
                Paragraph(str(number), st["cell"]),
                Paragraph(escape(display_path(entry.path, context.source)), st["cell"]),
                Paragraph("" if score is None else f"{score:.2f}", st["cell_right"]),
                Paragraph(probability_markup(entry), st["cell_right"]),
            ]
        )
    widths = [9 * mm, BODY_WIDTH - 59 * mm, 28 * mm, 22 * mm]
    table = _listing(rows, widths)
    return [
        table_start(),
        Paragraph(f"Outside the domain ({len(outside)})", st["h2"]),
        Paragraph(
            "These images lie outside the images the model was validated on (domain score "
            "above 1): their probabilities, greyed, mean nothing, and they were not flagged. "
            "Read them without the model.",
            st["small"],
        ),
        Spacer(0, 2 * mm),
        table,
    ]
