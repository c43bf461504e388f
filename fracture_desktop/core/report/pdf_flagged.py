"""One flagged image in the PDF report: its title line, its facts and its key image block.

The key images arrive as JPEG bytes and are embedded unchanged (no re-encoding): the
picture as displayed beside its heatmap or boxes.
"""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from fracture_desktop.core.report.entries import ReportContext, ReportEntry
from fracture_desktop.core.report.pdf_facts import (
    FLAG_COLOURS,
    NONE,
    acquisition_text,
    display_path,
    escape,
    flag_markup,
    patient_text,
    printed_notes,
    probability_markup,
    reader_decision,
)
from fracture_desktop.core.report.pdf_pages import BODY_WIDTH, MUTED, picture

#: Tallest key image: two flagged images fit on one page.
PICTURE_HEIGHT = 82 * mm


def flagged_block(
    number: int,
    entry: ReportEntry,
    context: ReportContext,
    deidentify: bool,
    st: dict[str, ParagraphStyle],
) -> Flowable:
    """One flagged image: a title line, its facts, then display and heatmap side by side."""
    title = (
        f"<b>#{number}</b>&nbsp;&nbsp;{flag_markup(entry.flag)}&nbsp;&nbsp;"
        f"p = <b>{probability_markup(entry)}</b>&nbsp;&nbsp;·&nbsp;&nbsp;"
        f"reader: {reader_decision(entry)}"
    )
    facts = [
        ("File", display_path(entry.path, context.source)),
        ("Identity", entry.finding.identity),
        ("Acquisition", acquisition_text(entry) or NONE),
    ]
    if not deidentify:
        facts.insert(0, ("Patient", patient_text(entry) or NONE))
    if entry.warnings:
        facts.append(("Warning", "; ".join(printed_notes(entry.warnings, deidentify))))
    muted = MUTED.hexval()
    lines = "<br/>".join(f'<font color="{muted}">{k}:</font> {escape(v)}' for k, v in facts)
    parts: list[Flowable] = [Paragraph(title, st["body"]), Paragraph(lines, st["cell"])]
    key = entry.key_image
    if key is not None:
        gap = 6 * mm
        box = (BODY_WIDTH - gap) / 2
        pictures = [picture(key.display_jpeg, key, box, PICTURE_HEIGHT)]
        # De-identified: the window's values only, never the file's free-text explanation.
        label = key.window_values if deidentify else key.window_label
        caption = f"As displayed · window {label}" if label else "As displayed"
        captions = [Paragraph(escape(caption), st["caption"])]
        if key.overlay_jpeg is not None:
            pictures.append(picture(key.overlay_jpeg, key, box, PICTURE_HEIGHT))
            captions.append(Paragraph(escape(key.overlay_caption), st["caption"]))
        grid = Table([pictures, captions], colWidths=[box + gap, box])
        grid.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                    ("ALIGN", (0, 0), (-1, 0), "LEFT"),
                ]
            )
        )
        parts += [Spacer(0, 2 * mm), grid]
    frame = Table([[parts]], colWidths=[BODY_WIDTH])
    frame.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, 0), (-1, 0), 2, FLAG_COLOURS[entry.flag]),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return KeepTogether([frame, Spacer(0, 4 * mm)])
