"""The PDF report's first page: title, header facts, intended use, folder check, summary."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from fracture_desktop.core.findings import Flag
from fracture_desktop.core.report.entries import ReportContext, ReportEntry, flag_counts
from fracture_desktop.core.report.pdf_facts import (
    FLAG_COLOURS,
    NONE,
    SOURCE_CHARS,
    elided,
    escape,
    flag_markup,
)
from fracture_desktop.core.report.pdf_pages import BODY_WIDTH, INK, MUTED, SHADE, TITLE


def front_matter(
    context: ReportContext, deidentify: bool, st: dict[str, ParagraphStyle]
) -> list[Flowable]:
    model = context.model
    t = model.thresholds
    created = context.created.strftime("%Y-%m-%d %H:%M %Z").strip()
    facts = [
        ("Created", created),
        ("Application", f"Fracture Desktop {context.app_version}"),
        ("Model", f"{model.id} {model.version} · weights sha256 {model.sha256_prefix}…"),
        *((("Run on", context.runs_on),) if context.runs_on else ()),
        (
            "Model card",
            f"sha256 {model.card_sha256} · {model.card_status}"
            + (
                " (not the card this model was released with)"
                if model.card_status == "modified"
                else ""
            ),
        ),
        (
            "Domain check",
            "on: images unlike the validation images are set apart"
            if model.domain_check == "on"
            else f"{model.domain_check.upper()}: images unlike the model's training images "
            "are not recognised and are flagged like any other",
        ),
        (
            "Thresholds",
            f"fracture if p ≥ {t.fracture:.3f} (high specificity) · "
            f"doubt if p ≥ {t.doubt:.3f} (high sensitivity) · from the "
            f"{model.thresholds_source}",
        ),
        ("Reader", context.reader or "not given (set it in the viewer: Analysis > Reader name)"),
        (
            "Patient data",
            "removed (de-identified report: no name, ID or birth date)"
            if deidentify
            else "included",
        ),
    ]
    rows = [[Paragraph(k, st["key"]), Paragraph(escape(v), st["body"])] for k, v in facts]
    table = Table(rows, colWidths=[30 * mm, BODY_WIDTH - 30 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    use = boxed_note(
        f"<b>Intended use.</b> {escape(model.intended_use)}", FLAG_COLOURS[Flag.DOUBT], st
    )
    return [
        Paragraph(TITLE, st["title"]),
        Paragraph(escape(elided(context.source, SOURCE_CHARS)), st["subtitle"]),
        Spacer(0, 5 * mm),
        table,
        Spacer(0, 4 * mm),
        use,
        *shift_note(context, st),
    ]


def boxed_note(text: str, accent: colors.Color, st: dict[str, ParagraphStyle]) -> Table:
    box = Table([[Paragraph(text, st["note"])]], colWidths=[BODY_WIDTH])
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), SHADE),
                ("LINEBEFORE", (0, 0), (0, -1), 2.5, accent),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return box


def shift_note(context: ReportContext, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Page 1: the folder shift warning, or what the folder check found."""
    shift = context.shift
    if shift is None:
        return []
    if shift.warning:
        text = f"<b>Folder shift warning.</b> {escape(shift.message)}"
        return [Spacer(0, 3 * mm), boxed_note(text, FLAG_COLOURS[Flag.FRACTURE], st)]
    if not shift.tested:
        text = (
            f"Folder check: {shift.n_images} scored images, too few to compare with the "
            "validation images."
        )
    else:
        text = (
            f"Folder check: the {shift.n_images} scored images do not depart from the "
            f"validation images (largest KS distance {shift.statistic:.2f})."
        )
    return [Spacer(0, 3 * mm), Paragraph(escape(text), st["small"])]


def summary_section(
    entries: Sequence[ReportEntry], st: dict[str, ParagraphStyle]
) -> list[Flowable]:
    counts = flag_counts(entries)
    total = len(entries)
    reviewed = {flag: 0 for flag in Flag}
    for entry in entries:
        if entry.decision is not None:
            reviewed[entry.flag] += 1
    rows: list[list[object]] = [["Flag", "Images", "Share", "Reviewed by a reader"]]
    for flag, count in counts.items():
        share = f"{100 * count / total:.0f} %" if total else NONE
        rows.append([Paragraph(flag_markup(flag), st["body"]), count, share, reviewed[flag]])
    rows.append(["Total", total, "100 %" if total else NONE, sum(reviewed.values())])
    table = Table(rows, colWidths=[45 * mm, 25 * mm, 25 * mm, 45 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 9),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
                ("LINEABOVE", (0, -1), (-1, -1), 0.75, INK),
                ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, SHADE]),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
            ]
        )
    )
    return [Paragraph("Summary", st["h2"]), Spacer(0, 2 * mm), table]
