"""The PDF report: header, counts per flag, each flagged image beside its heatmap or boxes,
all images.

Built with reportlab's platypus (imported by the ``pdf_*`` modules only, so the viewer starts
without it) on the page laid out by :mod:`.pdf_pages`. The sections are made by
:mod:`.pdf_front_page` (header and summary), :mod:`.pdf_flagged` (one flagged image and its
key images) and :mod:`.pdf_tables` (images outside the domain, all images); this module puts
them in order and writes the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.jobs import CancelToken, ProgressCallback
from fracture_desktop.core.report.entries import ReportContext, ReportEntry
from fracture_desktop.core.report.pdf_flagged import flagged_block
from fracture_desktop.core.report.pdf_front_page import front_matter, summary_section
from fracture_desktop.core.report.pdf_pages import ReportDoc, binary_streams, styles
from fracture_desktop.core.report.pdf_tables import (
    all_images_table,
    outside_section,
    table_start,
)


def _story(
    entries: Sequence[ReportEntry], context: ReportContext, deidentify: bool
) -> list[Flowable]:
    st = styles()
    story = front_matter(context, deidentify, st) + summary_section(entries, st)
    numbered = list(enumerate(entries, start=1))
    flagged = sorted(
        (pair for pair in numbered if pair[1].is_flagged),
        key=lambda pair: (pair[1].flag.suspicion_rank, -(pair[1].finding.probability or 0.0)),
    )
    heading: list[Flowable] = [Paragraph("Flagged images", st["h2"])]
    if flagged:
        heading += [
            Paragraph(
                "Fracture first, then doubt; most probable first. Numbers refer to the table "
                "of all images.",
                st["small"],
            ),
            Spacer(0, 3 * mm),
        ]
        blocks = [flagged_block(n, e, context, deidentify, st) for n, e in flagged]
        # The heading goes with the first image: never alone at the foot of a page.
        story += [KeepTogether([*heading, blocks[0]]), *blocks[1:]]
    else:
        story += [*heading, Paragraph("No image was flagged.", st["body"])]
    story += outside_section(numbered, context, st)
    story += [
        table_start(),
        Paragraph("All images", st["h2"]),
        Spacer(0, 2 * mm),
        all_images_table(entries, context, deidentify, st),
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
    with atomic_write(path, overwrite) as f:
        pdf_to(f, entries, context, deidentify, progress, cancel)
    return path


def pdf_to(
    f: BinaryIO,
    entries: Sequence[ReportEntry],
    context: ReportContext,
    deidentify: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Write the PDF report to the open binary file ``f`` (see :func:`write_pdf`)."""
    story = _story(entries, context, deidentify)
    with binary_streams():
        ReportDoc(f, context, len(story), progress, cancel).build(story)
