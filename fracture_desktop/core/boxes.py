"""Suspected fractures as boxes: what a localiser reports, read off its objectness map.

Pure numpy, so reports, the results store and the viewer handle boxes without torch. The map
comes from :class:`~fracture_desktop.core.inference.localiser.LocalisationHead`: local maxima
above a threshold, each grown to the cells above half its peak, mapped back through the
letterbox into the pixels of the stored image, then non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fracture_desktop.core.imaging.model_input import InputSpec, fit_box


@dataclass(frozen=True)
class Box:
    """A suspected fracture, in the pixels of the stored image (before any display rotation
    or flip): columns ``x0``-``x1``, rows ``y0``-``y1``, and the localiser's ``score`` in
    [0, 1]."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    def as_list(self) -> list[float]:
        """``[x0, y0, x1, y1, score]``, rounded for reports (the CSV's ``boxes`` column)."""
        return [
            round(self.x0, 1),
            round(self.y0, 1),
            round(self.x1, 1),
            round(self.y1, 1),
            round(self.score, 3),
        ]

    @property
    def centre(self) -> tuple[float, float]:
        """(column, row) of the box's centre."""
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


def _local_maxima(scores: np.ndarray) -> np.ndarray:
    """Mask of cells no lower than any of their eight neighbours (CenterNet's peak rule)."""
    padded = np.pad(scores, 1, constant_values=-np.inf)
    rows, cols = scores.shape
    neighbours = np.stack(
        [
            padded[1 + dr : 1 + dr + rows, 1 + dc : 1 + dc + cols]
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
        ]
    )
    return scores >= neighbours.max(axis=0)


def _iou(a: Box, b: Box) -> float:
    w = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    h = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = w * h
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def suppress(boxes: list[Box], iou: float = 0.3) -> list[Box]:
    """Greedy non-maximum suppression: highest score first, drop boxes overlapping a kept one
    by more than ``iou``."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(_iou(box, other) <= iou for other in kept):
            kept.append(box)
    return kept


def decode_boxes(
    scores: np.ndarray,
    image_shape: tuple[int, int],
    spec: InputSpec,
    threshold: float,
    max_boxes: int = 3,
    shrink: float = 1.0,
) -> tuple[Box, ...]:
    """Boxes from an objectness map, in the pixels of the stored image.

    Parameters
    ----------
    scores : ndarray
        Objectness probabilities (rows, cols) on a regular grid over the model input.
    image_shape : (int, int)
        Rows and columns of the stored image the input was made from.
    spec : InputSpec
        The model input (size and letterboxing), to undo the placement of the image.
    threshold : float
        Lowest peak score that makes a box (chosen on ``val``, in the model card).
    max_boxes : int
        At most this many boxes, highest scores first.
    shrink : float
        Scale applied to each box about its centre: a box grows to every cell a fracture
        touches, so it over-covers the fracture by up to a cell on each side.

    Returns
    -------
    tuple of Box
        Highest score first, after non-maximum suppression, clipped to the image.
    """
    rows, cols = scores.shape
    cell = spec.size / rows
    top, left, in_rows, in_cols = fit_box(image_shape, spec.size, spec.letterbox)
    sy, sx = image_shape[0] / in_rows, image_shape[1] / in_cols
    peaks = np.argwhere(_local_maxima(scores) & (scores >= threshold))
    order = np.argsort(-scores[peaks[:, 0], peaks[:, 1]])
    found: list[Box] = []
    for r, c in peaks[order][: 4 * max_boxes]:
        peak = float(scores[r, c])
        # Grow along the peak's row and column to the cells above half the peak.
        r0, r1, c0, c1 = r, r, c, c
        while r0 > 0 and scores[r0 - 1, c] >= peak / 2:
            r0 -= 1
        while r1 < rows - 1 and scores[r1 + 1, c] >= peak / 2:
            r1 += 1
        while c0 > 0 and scores[r, c0 - 1] >= peak / 2:
            c0 -= 1
        while c1 < cols - 1 and scores[r, c1 + 1] >= peak / 2:
            c1 += 1
        # Input pixels -> stored-image pixels, shrunk about the centre.
        y0, y1 = (r0 * cell - top) * sy, ((r1 + 1) * cell - top) * sy
        x0, x1 = (c0 * cell - left) * sx, ((c1 + 1) * cell - left) * sx
        cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
        hh, hw = shrink * (y1 - y0) / 2, shrink * (x1 - x0) / 2
        box = Box(
            x0=float(np.clip(cx - hw, 0, image_shape[1])),
            y0=float(np.clip(cy - hh, 0, image_shape[0])),
            x1=float(np.clip(cx + hw, 0, image_shape[1])),
            y1=float(np.clip(cy + hh, 0, image_shape[0])),
            score=peak,
        )
        if box.x1 > box.x0 and box.y1 > box.y0:
            found.append(box)
    return tuple(suppress(found)[:max_boxes])
