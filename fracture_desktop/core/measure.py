"""Distances between two points of an image, in mm when calibrated, else in pixels, and the
measurements a reader drew (kept per image by the reading session)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fracture_desktop.core.imaging.image import PixelSpacing


@dataclass(frozen=True)
class Distance:
    """A measured length; ``unit`` is ``"mm"`` or ``"px"``."""

    value: float
    unit: str
    source: str

    @property
    def label(self) -> str:
        if self.unit == "mm":
            return f"{self.value:.1f} mm ({self.source})"
        return f"{self.value:.1f} px (uncalibrated)"


def distance(
    start: tuple[float, float], end: tuple[float, float], spacing: PixelSpacing | None
) -> Distance:
    """Length from ``start`` to ``end``, both ``(column, row)`` in pixel coordinates.

    Columns are scaled by the column spacing and rows by the row spacing, so anisotropic
    pixels measure right (PS3.3 10.7.1.3: Pixel Spacing is row spacing first).
    """
    dc, dr = end[0] - start[0], end[1] - start[1]
    if spacing is None:
        return Distance(math.hypot(dc, dr), "px", "uncalibrated")
    mm = math.hypot(dc * spacing.column, dr * spacing.row)
    return Distance(mm, "mm", str(spacing.source))


@dataclass(frozen=True)
class Measurement:
    """A distance the reader drew: from ``start`` to ``end``, both ``(column, row)`` in the
    stored image's pixels (so it stays on the anatomy whatever the view's orientation)."""

    start: tuple[float, float]
    end: tuple[float, float]
    distance: Distance
