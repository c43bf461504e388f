"""The PDF report: header, counts per flag, each flagged image beside its heatmap or boxes,
all images.

Built with reportlab's platypus (imported here and in :mod:`.pdf_pages` only, so the viewer
starts without it), on the page laid out by :mod:`.pdf_pages`. The
key images arrive as JPEG bytes and are embedded unchanged (no re-encoding).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.files import printable
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.deidentify import scrub
from fracture_desktop.core.report.entries import (
    ReportContext,
    ReportEntry,
    flag_counts,
)
from fracture_desktop.core.report.pdf_pages import (
    BODY_WIDTH,
    INK,
    MUTED,
    SHADE,
    TITLE,
    ReportDoc,
    binary_streams,
    picture,
    styles,
)

FLAG_COLOURS = {
    Flag.FRACTURE: colors.HexColor("#C0392B"),
    Flag.DOUBT: colors.HexColor("#B9770E"),
    Flag.NO_FRACTURE: colors.HexColor("#1E8449"),
    Flag.OUTSIDE_DOMAIN: colors.HexColor("#6C5B7B"),
    Flag.NOT_ANALYSED: colors.HexColor("#7B8794"),
}
#: Tallest key image: two flagged images fit on one page.
PICTURE_HEIGHT = 82 * mm
NOT_REVIEWED = "not reviewed"
NONE = "\u2013"  # an en dash marks an empty fact


def escape(text: str) -> str:
    """Text for a Paragraph: XML-escaped, with the bytes of non-UTF-8 file names as escapes."""
    return xml_escape(printable(text))


def _flag_markup(flag: Flag, bold: bool = True) -> str:
    font = "Helvetica-Bold" if bold else "Helvetica"
    return f'<font name="{font}" color="{FLAG_COLOURS[flag].hexval()}">{escape(flag.value)}</font>'


def _probability(entry: ReportEntry) -> str:
    """The probability, greyed for an image outside the domain: kept, but not to be read."""
    p = entry.finding.probability
    if p is None:
        return ""
    if entry.flag is Flag.OUTSIDE_DOMAIN:
        return f'<font color="{MUTED.hexval()}">{p:.3f}</font>'
    return f"{p:.3f}"


def _decision(entry: ReportEntry) -> str:
    return entry.decision.value if entry.decision else NOT_REVIEWED


def _display_path(path: Path, source: str) -> str:
    """Paths relative to the analysed folder: shorter, and the folder is in the header."""
    try:
        # abspath, not resolve: a linked file is shown where the user put it.
        return Path(os.path.abspath(path)).relative_to(source).as_posix()
    except ValueError:
        return str(path)


def _notes(texts: Sequence[str], deidentify: bool) -> list[str]:
    """Errors and warnings as printed: without values quoted from the file when de-identified."""
    return [scrub(t) if deidentify else t for t in texts]


def _patient(entry: ReportEntry) -> str:
    record = entry.record
    if record is None:
        return ""
    parts = [record.patient_name.replace("^", " ").strip(), record.patient_id]
    if record.patient_birth_date:
        parts.append(f"born {record.patient_birth_date}")
    return " · ".join(p for p in parts if p)


def _acquisition(entry: ReportEntry) -> str:
    record = entry.record
    if record is None:
        return ""
    return " / ".join(p for p in (record.modality, record.body_part, record.view_position) if p)


def _header(
    context: ReportContext, deidentify: bool, st: dict[str, ParagraphStyle]
) -> list[Flowable]:
    model = context.model
    t = model.thresholds
    created = context.created.strftime("%Y-%m-%d %H:%M %Z").strip()
    facts = [
        ("Created", created),
        ("Application", f"Fracture Desktop {context.app_version}"),
        ("Model", f"{model.id} {model.version} · weights sha256 {model.sha256_prefix}…"),
        (
            "Thresholds",
            f"fracture if p ≥ {t.fracture:.3f} (high specificity) · "
            f"doubt if p ≥ {t.doubt:.3f} (high sensitivity) · from the "
            f"{model.thresholds_source}",
        ),
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
    use = _boxed(f"<b>Intended use.</b> {escape(model.intended_use)}", FLAG_COLOURS[Flag.DOUBT], st)
    return [
        Paragraph(TITLE, st["title"]),
        Paragraph(escape(context.source), st["subtitle"]),
        Spacer(0, 5 * mm),
        table,
        Spacer(0, 4 * mm),
        use,
        *_shift_note(context, st),
    ]


def _boxed(text: str, accent: colors.Color, st: dict[str, ParagraphStyle]) -> Table:
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


def _shift_note(context: ReportContext, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Page 1: the folder shift warning, or what the folder check found."""
    shift = context.shift
    if shift is None:
        return []
    if shift.warning:
        text = f"<b>Folder shift warning.</b> {escape(shift.message)}"
        return [Spacer(0, 3 * mm), _boxed(text, FLAG_COLOURS[Flag.FRACTURE], st)]
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


def _summary(entries: Sequence[ReportEntry], st: dict[str, ParagraphStyle]) -> list[Flowable]:
    counts = flag_counts(entries)
    total = len(entries)
    reviewed = {flag: 0 for flag in Flag}
    for entry in entries:
        if entry.decision is not None:
            reviewed[entry.flag] += 1
    rows: list[list[object]] = [["Flag", "Images", "Share", "Reviewed by a reader"]]
    for flag, count in counts.items():
        share = f"{100 * count / total:.0f} %" if total else NONE
        rows.append([Paragraph(_flag_markup(flag), st["body"]), count, share, reviewed[flag]])
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


def _flagged_block(
    number: int,
    entry: ReportEntry,
    context: ReportContext,
    deidentify: bool,
    st: dict[str, ParagraphStyle],
) -> Flowable:
    """One flagged image: a title line, its facts, then display and heatmap side by side."""
    title = (
        f"<b>#{number}</b>&nbsp;&nbsp;{_flag_markup(entry.flag)}&nbsp;&nbsp;"
        f"p = <b>{_probability(entry)}</b>&nbsp;&nbsp;·&nbsp;&nbsp;reader: {_decision(entry)}"
    )
    facts = [
        ("File", _display_path(entry.path, context.source)),
        ("Identity", entry.finding.identity),
        ("Acquisition", _acquisition(entry) or NONE),
    ]
    if not deidentify:
        facts.insert(0, ("Patient", _patient(entry) or NONE))
    if entry.warnings:
        facts.append(("Warning", "; ".join(_notes(entry.warnings, deidentify))))
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


def _all_images_table(
    entries: Sequence[ReportEntry],
    context: ReportContext,
    deidentify: bool,
    st: dict[str, ParagraphStyle],
) -> Table:
    head = ["#", "File", "Acquisition", "p", "Flag", "Reader", "Note"]
    rows: list[list[object]] = [[Paragraph(f"<b>{h}</b>", st["cell"]) for h in head]]
    for number, entry in enumerate(entries, start=1):
        file_text = escape(_display_path(entry.path, context.source))
        patient = "" if deidentify else _patient(entry)
        if patient:
            file_text += f'<br/><font color="{MUTED.hexval()}">{escape(patient)}</font>'
        notes = (entry.finding.error,) if entry.finding.error else entry.warnings
        note = "; ".join(_notes(notes, deidentify))
        rows.append(
            [
                Paragraph(str(number), st["cell"]),
                Paragraph(file_text, st["cell"]),
                Paragraph(escape(_acquisition(entry)), st["cell"]),
                Paragraph(_probability(entry), st["cell_right"]),
                Paragraph(_flag_markup(entry.flag, bold=entry.is_flagged), st["cell"]),
                Paragraph(escape(entry.decision.value if entry.decision else ""), st["cell"]),
                Paragraph(escape(note), st["cell"]),
            ]
        )
    widths = [9 * mm, 62 * mm, 27 * mm, 12 * mm, 20 * mm, 17 * mm]
    widths.append(BODY_WIDTH - sum(widths))
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, SHADE]),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _outside_section(
    numbered: Sequence[tuple[int, ReportEntry]],
    context: ReportContext,
    st: dict[str, ParagraphStyle],
) -> list[Flowable]:
    """Images outside the model's domain: listed with their domain score, never flagged."""
    outside = [(n, e) for n, e in numbered if e.flag is Flag.OUTSIDE_DOMAIN]
    if not outside:
        return []
    rows: list[list[object]] = [
        [Paragraph(f"<b>{h}</b>", st["cell"]) for h in ("#", "File", "Domain score", "p")]
    ]
    for number, entry in outside:
        score = entry.finding.domain_score
        rows.append(
            [
                Paragraph(str(number), st["cell"]),
                Paragraph(escape(_display_path(entry.path, context.source)), st["cell"]),
                Paragraph("" if score is None else f"{score:.2f}", st["cell_right"]),
                Paragraph(_probability(entry), st["cell_right"]),
            ]
        )
    widths = [9 * mm, BODY_WIDTH - 59 * mm, 28 * mm, 22 * mm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, INK),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, SHADE]),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return [
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


def _story(
    entries: Sequence[ReportEntry], context: ReportContext, deidentify: bool
) -> list[Flowable]:
    st = styles()
    story = _header(context, deidentify, st) + _summary(entries, st)
    numbered = list(enumerate(entries, start=1))
    flagged = sorted(
        (pair for pair in numbered if pair[1].is_flagged),
        key=lambda pair: (pair[1].flag.suspicion_rank, -(pair[1].finding.probability or 0.0)),
    )
    story.append(Paragraph("Flagged images", st["h2"]))
    if flagged:
        story.append(
            Paragraph(
                "Fracture first, then doubt; most probable first. Numbers refer to the table "
                "of all images.",
                st["small"],
            )
        )
        story.append(Spacer(0, 3 * mm))
        story += [_flagged_block(n, e, context, deidentify, st) for n, e in flagged]
    else:
        story.append(Paragraph("No image was flagged.", st["body"]))
    story += _outside_section(numbered, context, st)
    story += [
        Paragraph("All images", st["h2"]),
        Spacer(0, 2 * mm),
        _all_images_table(entries, context, deidentify, st),
    ]
    return story


def write_pdf(
    entries: Sequence[ReportEntry],
    path: Path | str,
    context: ReportContext,
    deidentify: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write the PDF report for ``entries`` to ``path`` atomically.

    Parameters
    ----------
    entries : sequence of ReportEntry
        All images of the report, in table order; flagged ones with a ``key_image`` get
        their pictures (flagged ones without are listed with their facts only).
    path : Path or str
        Destination chosen by the user; nothing is written anywhere else.
    context : ReportContext
        Header facts: app and model identity, thresholds, intended use, date, source.
    deidentify : bool
        Leave out patient name, ID and birth date everywhere in the document.
    overwrite : bool
        Replace an existing file; otherwise :class:`OutputExistsError` is raised.
    progress : callable, optional
        ``progress(done, total)`` while the pages are laid out.
    cancel : CancelToken, optional
        Checked while laying out; raises :class:`~fracture_desktop.core.jobs.Cancelled`
        and leaves no file behind.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    story = _story(entries, context, deidentify)
    with atomic_write(path, overwrite) as f, binary_streams():
        ReportDoc(f, context, len(story), progress, cancel).build(story)
    return path
