"""Column widths that fit what a column can hold, so short texts are never cut off."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle

#: Room around a cell's text beyond the style's focus margins (the style sheet's padding).
CELL_PADDING = 10


def text_width(view: QAbstractItemView, texts: Iterable[str]) -> int:
    """Pixels a column of ``view`` needs to show the widest of ``texts`` whole."""
    metrics = view.fontMetrics()
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    return max((metrics.horizontalAdvance(t) for t in texts), default=0) + 2 * margin + CELL_PADDING


def fix_column(
    view: QAbstractItemView, header: QHeaderView, column: int, texts: Iterable[str]
) -> None:
    """Give ``column`` a fixed width holding its header label and the widest of ``texts``."""
    label = str(view.model().headerData(column, header.orientation()) or "")
    header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
    header.resizeSection(
        column, max(text_width(view, [label, *texts]), header.sectionSizeHint(column))
    )
