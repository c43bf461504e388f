"""The cells of a localisation map that a fracture box touches, and the map's loss.

FracAtlas gives a box for every fractured image. A localising network's objectness map
(efficientnet_lite0-v3's head, :mod:`fracture_desktop.core.inference.localiser`) is trained,
beside the image-level loss, to mark the grid cells that a box touches; every cell of a
non-fractured image is negative.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def cell_targets(masks: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Input-pixel masks (N, 1, H, W) -> (N, rows, cols): 1 where a cell touches a box."""
    return F.adaptive_max_pool2d(masks.float(), grid)[:, 0]


def positive_weight(masks: np.ndarray, known: np.ndarray, grid: tuple[int, int]) -> float:
    """Weight of a box cell against a free cell, from the training masks.

    The square root of the negative-to-positive cell ratio: box cells are well under 1%
    of all cells, and the full ratio would let them swamp the image-level loss.
    """
    positives = negatives = 0.0
    for start in range(0, len(masks), 256):
        chunk = torch.from_numpy(np.asarray(masks[start : start + 256]))[:, None]
        cells = cell_targets(chunk, grid)[torch.from_numpy(known[start : start + 256])]
        positives += float(cells.sum())
        negatives += float(cells.numel()) - float(cells.sum())
    return math.sqrt(negatives / max(positives, 1.0))


def cell_loss(
    logits: torch.Tensor, masks: torch.Tensor, known: torch.Tensor, positive_weight: float
) -> torch.Tensor:
    """Cell-wise cross-entropy of cell logits (N, rows, cols) against input-pixel box masks
    (N, 1, H, W); samples whose mask is not ``known`` add nothing."""
    per_cell = F.binary_cross_entropy_with_logits(
        logits,
        cell_targets(masks, tuple(logits.shape[-2:])),
        pos_weight=torch.tensor(positive_weight),
        reduction="none",
    )
    weights = known.float()[:, None, None].expand_as(per_cell)
    return (per_cell * weights).sum() / weights.sum().clamp(min=1.0)
