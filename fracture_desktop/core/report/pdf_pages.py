"""The PDF report's page: A4 template with a running header and footer, text styles, pictures.

The report's sections (:mod:`.pdf_front_page`, :mod:`.pdf_flagged`, :mod:`.pdf_tables`) and
:mod:`.pdf_report`, which writes them, build the content on top of these.
Imports reportlab, so only the PDF writers (the report's modules, the validation page) import it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate

from fracture_desktop.core.inference.card import INTENDED_USE_SHORT
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.entries import KeyImage, ReportContext

TITLE = "Fracture screening report"
MARGIN = 16 * mm
PAGE_WIDTH, PAGE_HEIGHT = A4
BODY_WIDTH = PAGE_WIDTH - 2 * MARGIN
INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#616E7C")
RULE = colors.HexColor("#CBD2D9")
SHADE = colors.HexColor("#F0F4F8")


def styles() -> dict[str, ParagraphStyle]:
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


class ReportDoc(BaseDocTemplate):
    """A4 pages with a running header and footer; reports progress after each flowable."""

    def __init__(
        self,
        target: BinaryIO,
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
            canvas.drawRightString(
                PAGE_WIDTH - MARGIN, top, f"{ctx.model.label} \u00b7 {ctx.model.card_text}"
            )
            canvas.line(MARGIN, top - 2 * mm, PAGE_WIDTH - MARGIN, top - 2 * mm)
        bottom = MARGIN - 2 * mm
        canvas.line(MARGIN, bottom + 4 * mm, PAGE_WIDTH - MARGIN, bottom + 4 * mm)
        canvas.drawString(
            MARGIN,
            bottom,
            f"Fracture Desktop {ctx.app_version} · model {ctx.model.label} · "
            f"{INTENDED_USE_SHORT[0].lower()}{INTENDED_USE_SHORT[1:]}",
        )
        canvas.drawRightString(PAGE_WIDTH - MARGIN, bottom, f"Page {doc.page}")
        canvas.restoreState()


class Picture(Flowable):
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


def picture(data: bytes, key: KeyImage, width: float, height: float) -> Picture:
    scale = min(width / key.width, height / key.height)
    return Picture(data, key.width * scale, key.height * scale)


@contextlib.contextmanager
def binary_streams() -> Iterator[None]:
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
