"""Reports a reader can file: CSV and PDF writers fed by plain data (no Qt).

The scan command, the viewer's export and the self-test run these through the triage job
(:mod:`fracture_desktop.core.triage`); used directly::

    context = ReportContext(ModelIdentity.from_card(engine.card), source=str(folder))
    entries = collect_entries(scan.images, engine, scan.problems, decisions, key_images=True)
    write_csv(entries, "out.csv", context)
    write_pdf(entries, "out.pdf", context, deidentify=True, progress=..., cancel=...)

``write_pdf`` imports reportlab when first used, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fracture_desktop.core.atomic import (
    OutputExistsError,
    OutputWriteError,
    atomic_write,
    check_writable,
    probe_writable,
)
from fracture_desktop.core.display import window_label
from fracture_desktop.core.report.collect import collect_entries, engine_context, report_entry
from fracture_desktop.core.report.csv_report import COLUMNS, write_csv
from fracture_desktop.core.report.entries import (
    KeyImage,
    ModelIdentity,
    ReportContext,
    ReportEntry,
    flag_counts,
)
from fracture_desktop.core.report.imagery import key_image_of, make_key_image

if TYPE_CHECKING:
    from fracture_desktop.core.report.pdf_report import write_pdf

__all__ = [
    "COLUMNS",
    "KeyImage",
    "ModelIdentity",
    "OutputExistsError",
    "OutputWriteError",
    "ReportContext",
    "ReportEntry",
    "atomic_write",
    "check_writable",
    "collect_entries",
    "engine_context",
    "flag_counts",
    "key_image_of",
    "make_key_image",
    "probe_writable",
    "report_entry",
    "window_label",
    "write_csv",
    "write_pdf",
]


def __getattr__(name: str) -> Any:
    # PEP 562: reportlab loads on the first ``write_pdf``, not when the viewer starts.
    if name == "write_pdf":
        from fracture_desktop.core.report.pdf_report import write_pdf

        return write_pdf
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
