"""How well predicted fracture boxes find the annotated ones.

Three figures, computed on the same images for the localiser and for Grad-CAM read through
the same box decoder:

- **pointing game**: on fractured images with boxes, does the top box's centre lie inside
  an annotated box? Chance: the boxes' share of the image area.
- **FROC**: the share of annotated boxes found (a predicted box whose centre lies inside it)
  at 0.5, 1 and 2 false boxes per image, counted over every image, normal ones included.
- **AP@0.5**: average precision with a hit at IoU >= 0.5 (PASCAL VOC, all-point
  interpolation), one class, over every image.

Coordinates are any frame shared by predictions and annotations (the evaluation uses the
model input square); both the centre rule and IoU are unchanged by a uniform scaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fracture_desktop.core.boxes import Box

#: A box as (x0, y0, x1, y1).
Rect = tuple[float, float, float, float]
#: False boxes per image at which FROC sensitivity is reported.
FROC_RATES = (0.5, 1.0, 2.0)


def _inside(point: tuple[float, float], rect: Rect) -> bool:
    x, y = point
    return rect[0] <= x <= rect[2] and rect[1] <= y <= rect[3]


def _iou(box: Box, rect: Rect) -> float:
    w = max(0.0, min(box.x1, rect[2]) - max(box.x0, rect[0]))
    h = max(0.0, min(box.y1, rect[3]) - max(box.y0, rect[1]))
    inter = w * h
    union = (box.x1 - box.x0) * (box.y1 - box.y0) + (rect[2] - rect[0]) * (rect[3] - rect[1])
    return inter / (union - inter) if union > inter else 0.0


def pointing_game(predicted: Sequence[Sequence[Box]], truth: Sequence[Sequence[Rect]]) -> float:
    """Share of images with annotated boxes whose top box's centre is inside one of them.

    An image without any predicted box counts as a miss.
    """
    hits = [
        bool(boxes) and any(_inside(boxes[0].centre, rect) for rect in rects)
        for boxes, rects in zip(predicted, truth, strict=True)
        if rects
    ]
    return float(np.mean(hits)) if hits else float("nan")


@dataclass(frozen=True)
class SweepPoint:
    """The boxes scored at least ``score``: how many found an annotated box, how many not."""

    score: float
    hits: int
    false: int


def sweep(predicted: Sequence[Sequence[Box]], truth: Sequence[Sequence[Rect]]) -> list[SweepPoint]:
    """Lower a score threshold through every predicted box, highest score first.

    Each box either finds a not yet found annotated box of its image (its centre inside it)
    or is a false box. One point per distinct score, after all boxes of that score.
    """
    events = sorted(
        ((box, index) for index, boxes in enumerate(predicted) for box in boxes),
        key=lambda e: -e[0].score,
    )
    found = [np.zeros(len(rects), dtype=bool) for rects in truth]
    hits = false = 0
    points: list[SweepPoint] = []
    for n, (box, index) in enumerate(events):
        match = next(
            (
                k
                for k, rect in enumerate(truth[index])
                if not found[index][k] and _inside(box.centre, rect)
            ),
            None,
        )
        if match is None:
            false += 1
        else:
            found[index][match] = True
            hits += 1
        if n + 1 == len(events) or events[n + 1][0].score != box.score:
            points.append(SweepPoint(box.score, hits, false))
    return points


def froc(predicted: Sequence[Sequence[Box]], truth: Sequence[Sequence[Rect]]) -> dict[str, float]:
    """Box sensitivity at :data:`FROC_RATES` false boxes per image (see :func:`sweep`):
    the best reached while the false boxes per image stay at or below each rate."""
    total = sum(len(rects) for rects in truth)
    best = dict.fromkeys(FROC_RATES, 0.0)
    for point in sweep(predicted, truth):
        for rate in FROC_RATES:
            if point.false / len(predicted) <= rate:
                best[rate] = max(best[rate], point.hits / total if total else float("nan"))
    return {f"sensitivity_at_{rate:g}_false_per_image": best[rate] for rate in FROC_RATES}


def average_precision(
    predicted: Sequence[Sequence[Box]], truth: Sequence[Sequence[Rect]], iou: float = 0.5
) -> float:
    """AP at an IoU threshold, PASCAL VOC's all-point interpolation."""
    total = sum(len(rects) for rects in truth)
    if not total:
        return float("nan")
    events = sorted(
        ((box, index) for index, boxes in enumerate(predicted) for box in boxes),
        key=lambda e: -e[0].score,
    )
    used = [np.zeros(len(rects), dtype=bool) for rects in truth]
    tp = np.zeros(len(events))
    for n, (box, index) in enumerate(events):
        overlaps = [_iou(box, rect) for rect in truth[index]]
        if overlaps:
            k = int(np.argmax(overlaps))
            if overlaps[k] >= iou and not used[index][k]:
                used[index][k] = True
                tp[n] = 1
    cum_tp = np.cumsum(tp)
    recall = cum_tp / total
    precision = cum_tp / np.arange(1, len(events) + 1)
    # Precision made monotone from the right, integrated over recall.
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def box_report(
    predicted: Sequence[Sequence[Box]], truth: Sequence[Sequence[Rect]], areas: Sequence[float]
) -> dict[str, float]:
    """Pointing game, FROC and AP@0.5, with chance: the annotated boxes' mean share of their
    image's area (``areas``, in the frame of the boxes) on images that have them."""
    cover = [
        min(1.0, sum((r[2] - r[0]) * (r[3] - r[1]) for r in rects) / area)
        for rects, area in zip(truth, areas, strict=True)
        if rects
    ]
    annotated = [rects for rects in truth if rects]
    return {
        "images_with_boxes": len(annotated),
        "images": len(truth),
        "pointing_game": pointing_game(predicted, truth),
        "chance_box_area_fraction": float(np.mean(cover)) if cover else float("nan"),
        **froc(predicted, truth),
        "ap_at_0.5": average_precision(predicted, truth),
    }
