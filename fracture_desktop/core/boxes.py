"""Suspected fractures as boxes: what a localiser reports, read off its maps.

Pure numpy, so reports, the results store and the viewer handle boxes without torch. The
maps come from :class:`~fracture_desktop.core.inference.localiser.LocalisationHead` (through
:func:`read_maps`, from torch or from the ONNX graph alike): local maxima of the score
above a threshold, each given the width and height the head predicts there (a centre head)
or grown to the cells above half its peak (an objectness head), mapped back through the
letterbox into the pixels of the stored image, then non-maximum suppression.
"""

from __future__ import annotations

import math
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


def _grown(scores: np.ndarray, r: int, c: int) -> tuple[float, float, float, float]:
    """Rows and columns (r0, r1, c0, c1, in cells, ends exclusive) of the cells above half
    the peak at (r, c), along its row and column."""
    rows, cols = scores.shape
    half = scores[r, c] / 2
    r0, r1, c0, c1 = r, r, c, c
    while r0 > 0 and scores[r0 - 1, c] >= half:
        r0 -= 1
    while r1 < rows - 1 and scores[r1 + 1, c] >= half:
        r1 += 1
    while c0 > 0 and scores[r, c0 - 1] >= half:
        c0 -= 1
    while c1 < cols - 1 and scores[r, c1 + 1] >= half:
        c1 += 1
    return r0, r1 + 1, c0, c1 + 1


def read_maps(raw: np.ndarray) -> np.ndarray:
    """A localisation head's raw maps (N, 1 or 3, rows, cols) -> float32 (N, channels, rows,
    cols): the score as a probability and, where present, box width and height in input
    pixels (the head predicts their logarithms; clamped at 1,024 px)."""
    raw = np.asarray(raw, dtype=np.float32)
    scores = 1.0 / (1.0 + np.exp(-raw[:, :1]))
    sizes = np.exp(np.minimum(raw[:, 1:], np.float32(math.log(1024.0))))
    return np.concatenate([scores, sizes], axis=1).astype(np.float32)


def decode_boxes(
    maps: np.ndarray,
    image_shape: tuple[int, int],
    spec: InputSpec,
    threshold: float,
    max_boxes: int = 3,
    shrink: float = 1.0,
    weight: float = 1.0,
) -> tuple[Box, ...]:
    """Boxes from a localiser's maps, in the pixels of the stored image.

    Parameters
    ----------
    maps : ndarray
        (1 or 3, rows, cols) on a regular grid over the model input: the score as a
        probability, then (a centre head) the box width and height in input pixels.
    image_shape : (int, int)
        Rows and columns of the stored image the input was made from.
    spec : InputSpec
        The model input (size and letterboxing), to undo the placement of the image.
    threshold : float
        Lowest peak score that makes a box (chosen on ``val``, in the model card).
    max_boxes : int
        At most this many boxes, highest scores first.
    shrink : float
        Scale applied to each box about its centre (chosen on ``val``): a grown box covers
        every cell its fracture touches, so it over-covers the fracture.
    weight : float
        Factor on every score before the threshold, such as the image's probability.

    Returns
    -------
    tuple of Box
        Highest score first, after non-maximum suppression, clipped to the image.
    """
    scores = weight * maps[0]
    cell = spec.size / scores.shape[0]
    top, left, in_rows, in_cols = fit_box(image_shape, spec.size, spec.letterbox)
    sy, sx = image_shape[0] / in_rows, image_shape[1] / in_cols
    peaks = np.argwhere(_local_maxima(scores) & (scores >= threshold))
    order = np.argsort(-scores[peaks[:, 0], peaks[:, 1]])
    found: list[Box] = []
    for r, c in peaks[order][: 4 * max_boxes]:
        # Centre and half sizes in input pixels.
        if len(maps) == 3:
            cy, cx = (r + 0.5) * cell, (c + 0.5) * cell
            hw, hh = maps[1, r, c] / 2, maps[2, r, c] / 2
        else:
            r0, r1, c0, c1 = _grown(scores, r, c)
            cy, cx = (r0 + r1) * cell / 2, (c0 + c1) * cell / 2
            hh, hw = (r1 - r0) * cell / 2, (c1 - c0) * cell / 2
        # Input pixels -> stored-image pixels, scaled about the centre.
        cy, cx = (cy - top) * sy, (cx - left) * sx
        hh, hw = shrink * hh * sy, shrink * hw * sx
        box = Box(
            x0=float(np.clip(cx - hw, 0, image_shape[1])),
            y0=float(np.clip(cy - hh, 0, image_shape[0])),
            x1=float(np.clip(cx + hw, 0, image_shape[1])),
            y1=float(np.clip(cy + hh, 0, image_shape[0])),
            score=float(scores[r, c]),
        )
        if box.x1 > box.x0 and box.y1 > box.y0:
            found.append(box)
    return tuple(suppress(found)[:max_boxes])
