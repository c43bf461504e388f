"""The PDF report: header, counts per flag, each flagged image beside its heatmap, all images.

Built with reportlab's platypus (imported here only, so the viewer starts without it). The
key images arrive as JPEG bytes and are embedded unchanged (no re-encoding).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from fracture_desktop.core.files import printable
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.atomic import atomic_write
from fracture_desktop.core.report.deidentify import scrub
from fracture_desktop.core.report.model import (
    KeyImage,
    ReportContext,
    ReportEntry,
    flag_counts,
)

TITLE = "Fracture screening report"
MARGIN = 16 * mm
PAGE_WIDTH, PAGE_HEIGHT = A4
BODY_WIDTH = PAGE_WIDTH - 2 * MARGIN
INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#616E7C")
RULE = colors.HexColor("#CBD2D9")
SHADE = colors.HexColor("#F0F4F8")
FLAG_COLOURS = {
    Flag.FRACTURE: colors.HexColor("#C0392B"),
    Flag.DOUBT: colors.HexColor("#B9770E"),
    Flag.NO_FRACTURE: colors.HexColor("#1E8449"),
    Flag.NOT_ANALYSED: colors.HexColor("#7B8794"),
}
#: Tallest key image: two flagged images fit on one page.
PICTURE_HEIGHT = 82 * mm
NOT_REVIEWED = "not reviewed"
NONE = "\u2013"  # an en dash marks an empty fact


def escape(text: str) -> str:
    """Text for a Paragraph: XML-escaped, with the bytes of non-UTF-8 file names as escapes."""
    return xml_escape(printable(text))


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()["Normal"]

    def style(name: str, **kw: object) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **{"textColor": INK, **kw})

    return {
        "title": style("title", fontName="Helvetica-Bold", fontSize=19, leading=23),
        "subtitle": style("subtitle", fontSize=9.5, leading=12, textColor=MUTED),
        "h2": style("h2", fontName="Helvetica-Bold", fontSize=12.5, leading=16, spaceBefore=10),
        "body": style("body", fontSize=9, leading=11.5),
        "small": style("small", fontSize=7.5, leading=9.5, textColor=MUTED),
        "cell": style("cell", fontSize=7.5, leading=9),
        "cell_right": style("cell_right", fontSize=7.5, leading=9, alignment=TA_RIGHT),
        "key": style("key", fontName="Helvetica-Bold", fontSize=8.5, leading=11, textColor=MUTED),
        "note": style("note", fontSize=8.5, leading=11.5),
        "caption": style("caption", fontSize=7.5, leading=9.5, textColor=MUTED),
    }


def _flag_markup(flag: Flag, bold: bool = True) -> str:
    font = "Helvetica-Bold" if bold else "Helvetica"
    return f'<font name="{font}" color="{FLAG_COLOURS[flag].hexval()}">{escape(flag.value)}</font>'


def _probability(entry: ReportEntry) -> str:
    p = entry.finding.probability
    return "" if p is None else f"{p:.3f}"


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


class _ReportDoc(BaseDocTemplate):
    """A4 pages with a running header and footer; reports progress after each flowable."""

    def __init__(
        self,
        target: io.BufferedIOBase,
        context: ReportContext,
        total: int,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> None:
        super().__init__(
            target,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + 4 * mm,
            bottomMargin=MARGIN + 4 * mm,
            title=TITLE,
            author=f"Fracture Desktop {context.app_version}",
            subject=f"Model {context.model.label}",
            creator=f"Fracture Desktop {context.app_version}",
        )
        self.context = context
        self._total, self._done = total, 0
        self._story: list[Flowable] = []
        self._progress, self._cancel = progress, cancel
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
        self.addPageTemplates([PageTemplate("page", [frame], onPage=self._decorate)])

    def build(self, flowables: list[Flowable]) -> None:
        # reportlab consumes this list as it lays out; what is left measures progress
        # (afterFlowable also fires for the pieces of split tables and kept-together blocks).
        self._story = flowables
        super().build(flowables)

    def afterFlowable(self, flowable: Flowable) -> None:
        if self._cancel is not None:
            self._cancel.raise_if_cancelled()
        done = max(self._done, self._total - len(self._story))
        if done != self._done and self._progress is not None:
            self._progress(done, self._total)
        self._done = done

    def _decorate(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        """Running header (from page 2) and footer: identity on every sheet of paper."""
        ctx = self.context
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(MUTED)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        if doc.page > 1:
            top = PAGE_HEIGHT - MARGIN + 1 * mm
            canvas.drawString(MARGIN, top, f"{TITLE} · {ctx.created:%Y-%m-%d %H:%M}")
            canvas.drawRightString(PAGE_WIDTH - MARGIN, top, ctx.model.label)
            canvas.line(MARGIN, top - 2 * mm, PAGE_WIDTH - MARGIN, top - 2 * mm)
        bottom = MARGIN - 2 * mm
        canvas.line(MARGIN, bottom + 4 * mm, PAGE_WIDTH - MARGIN, bottom + 4 * mm)
        canvas.drawString(
            MARGIN,
            bottom,
            f"Fracture Desktop {ctx.app_version} · model {ctx.model.label} · "
            "research and reading aid, not a diagnosis",
        )
        canvas.drawRightString(PAGE_WIDTH - MARGIN, bottom, f"Page {doc.page}")
        canvas.restoreState()


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
            f"doubt if p ≥ {t.doubt:.3f} (high sensitivity)",
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
    use = Table(
        [[Paragraph(f"<b>Intended use.</b> {escape(model.intended_use)}", st["note"])]],
        colWidths=[BODY_WIDTH],
    )
    use.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), SHADE),
                ("LINEBEFORE", (0, 0), (0, -1), 2.5, FLAG_COLOURS[Flag.DOUBT]),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return [
        Paragraph(TITLE, st["title"]),
        Paragraph(escape(context.source), st["subtitle"]),
        Spacer(0, 5 * mm),
        table,
        Spacer(0, 4 * mm),
        use,
    ]


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


class _Picture(Flowable):
    """A JPEG drawn at a fixed size, decoded only while it is drawn.

    reportlab's ``Image`` flowable keeps its ImageReader, which caches the decoded pixels
    (for its de-duplication digest) until the whole document is built: about 1.3 MB per
    flagged image, against the 40 kB of JPEG the PDF actually stores.
    """

    def __init__(self, data: bytes, width: float, height: float) -> None:
        super().__init__()
        self.data, self.width, self.height = data, width, height

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        reader = ImageReader(io.BytesIO(self.data))
        self.canv.drawImage(reader, 0, 0, self.width, self.height)
        # A JPEG reader stores its own bound method (``jpeg_fh``): a reference cycle that
        # only a full garbage collection frees, so readers and their decoded pixels piled
        # up for the whole build. Breaking it frees them now.
        vars(reader).pop("jpeg_fh", None)


def _picture(data: bytes, key: KeyImage, width: float, height: float) -> _Picture:
    scale = min(width / key.width, height / key.height)
    return _Picture(data, key.width * scale, key.height * scale)


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
        pictures = [_picture(key.display_jpeg, key, box, PICTURE_HEIGHT)]
        # De-identified: the window's values only, never the file's free-text explanation.
        label = key.window_values if deidentify else key.window_label
        caption = f"As displayed · window {label}" if label else "As displayed"
        captions = [Paragraph(escape(caption), st["caption"])]
        if key.overlay_jpeg is not None:
            pictures.append(_picture(key.overlay_jpeg, key, box, PICTURE_HEIGHT))
            heat_caption = "Heatmap overlay (Grad-CAM): brighter = more weight in the score"
            captions.append(Paragraph(heat_caption, st["caption"]))
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


def _story(
    entries: Sequence[ReportEntry], context: ReportContext, deidentify: bool
) -> list[Flowable]:
    st = _styles()
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
        Replace an existing file; otherwise :class:`ReportExistsError` is raised.
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
    with atomic_write(path, overwrite) as f, _binary_streams():
        _ReportDoc(f, context, len(story), progress, cancel).build(story)
    return path


@contextlib.contextmanager
def _binary_streams() -> Iterator[None]:
    """Store image and page streams as binary rather than ASCII85 text.

    ASCII85 only serves 7-bit mail transport; it makes a PDF 25 % larger, and without
    reportlab's optional C accelerator encoding it took 80 % of the time of writing a
    report. reportlab reads the switch from its global config, so it is set for the build
    and restored after.
    """
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved
