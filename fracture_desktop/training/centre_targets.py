"""What a centre head learns from a fracture box, and how it is scored (CenterNet).

Zhou et al. 2019 ("Objects as Points"): each box becomes a peak of 1 at the cell holding
its centre, with a Gaussian falling off around it; the head's score map is trained with
a penalty-reduced focal loss (cells near a centre are scolded less for scoring high), and
its size maps with an L1 loss on the box's log width and height, read at the centre cells
only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

#: A box as (x0, y0, x1, y1) in model-input pixels.
Rect = tuple[float, float, float, float]
#: The Gaussian's spread per axis, as a share of the box side, in cells: CenterNet's
#: "diameter / 6" gives a 3-cell box a spread under a cell.
SPREAD = 1 / 4
#: No spread below this (cells), so that the smallest boxes still teach their neighbours.
MIN_SPREAD = 0.75


def centre_targets(
    rects: Sequence[Rect], grid: int, cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The maps a centre head should give for one image's boxes.

    Parameters
    ----------
    rects : sequence of Rect
        The image's fracture boxes in input pixels (none for a non-fractured image).
    grid : int
        Rows (= columns) of the head's square grid.
    cell : float
        Input pixels per cell.

    Returns
    -------
    heat : ndarray
        (grid, grid) float32 in [0, 1]: exactly 1 at each box's centre cell.
    sizes : ndarray
        (2, grid, grid) float32: log width and log height (input pixels) at centre cells.
    centres : ndarray
        (grid, grid) bool: the centre cells.
    """
    heat = np.zeros((grid, grid), dtype=np.float32)
    sizes = np.zeros((2, grid, grid), dtype=np.float32)
    centres = np.zeros((grid, grid), dtype=bool)
    along = np.arange(grid) + 0.5
    for x0, y0, x1, y1 in rects:
        cx, cy = (x0 + x1) / 2 / cell, (y0 + y1) / 2 / cell
        sx = max(MIN_SPREAD, SPREAD * (x1 - x0) / cell)
        sy = max(MIN_SPREAD, SPREAD * (y1 - y0) / cell)
        bump = np.exp(-((along[None, :] - cx) ** 2) / (2 * sx**2)) * np.exp(
            -((along[:, None] - cy) ** 2) / (2 * sy**2)
        )
        r, c = min(int(cy), grid - 1), min(int(cx), grid - 1)
        heat = np.maximum(heat, bump.astype(np.float32))
        heat[r, c] = 1.0
        sizes[:, r, c] = np.log([max(x1 - x0, 1.0), max(y1 - y0, 1.0)])
        centres[r, c] = True
    return heat, sizes, centres


def focal_loss(logits: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), summed over cells and
    divided by the number of centres in the batch (at least 1)."""
    p = torch.sigmoid(logits)
    positive = heat == 1
    # log(p) and log(1 - p) from the logits, stable where p saturates.
    pos = F.logsigmoid(logits) * (1 - p) ** 2
    neg = F.logsigmoid(-logits) * p**2 * (1 - heat) ** 4
    total = pos[positive].sum() + neg[~positive].sum()
    return -total / positive.sum().clamp(min=1)


def size_loss(log_sizes: torch.Tensor, target: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """L1 between predicted and true log box sizes (N, 2, rows, cols) at ``centres``
    (N, rows, cols); zero for a batch without centres."""
    chosen = centres[:, None].expand_as(log_sizes)
    if not chosen.any():
        return log_sizes.sum() * 0.0
    return F.l1_loss(log_sizes[chosen], target[chosen])
