"""Where the fracture is: a small objectness head on a backbone's feature pyramid, and the
boxes read off its map.

FracAtlas' fracture boxes are small (median about 14 x 15 px once an image is letterboxed to
256 px), so one cell of a stride-16 map holds a whole fracture and a peak there says little
about where inside it the fracture lies. The head therefore merges the stride-16, stride-8
and stride-4 features (a minimal feature pyramid, Lin et al. 2017) and predicts, for each
cell of the stride-4 grid, whether a fracture box touches it. It is trained with the box
masks (:func:`fracture_desktop.training.box_guidance.cell_loss`); every cell of a non-fractured
image is a negative, so the map also learns where fractures are not.

Boxes are read from the map without torch, by :func:`fracture_desktop.core.boxes.decode_boxes`.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn
from torch.nn import functional as F


class LocalisationHead(nn.Module):
    """A feature pyramid over three backbone levels, ending in one objectness logit per cell.

    Parameters
    ----------
    channels : tuple of int
        Channels of the backbone's features at strides 4, 8 and 16, in that order.
    width : int
        Channels of the pyramid.
    """

    def __init__(self, channels: tuple[int, int, int], width: int = 32) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        # Conv then batch norm as direct siblings, so that inference folds the pair.
        self.smooth = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.smooth_bn = nn.BatchNorm2d(width)
        self.objectness = nn.Conv2d(width, 1, 1)
        # Fractures cover well under 1% of cells: start every cell near that prior
        # (Lin et al. 2017, focal loss paper) so that early steps are not spent unlearning 0.5.
        assert self.objectness.bias is not None
        nn.init.constant_(self.objectness.bias, -4.6)

    def forward(self, features: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Stride-4, -8 and -16 features -> objectness logits (N, rows, cols) on the stride-4
        grid."""
        fine, middle, coarse = (lat(f) for lat, f in zip(self.lateral, features, strict=True))
        x = middle + F.interpolate(coarse, size=middle.shape[-2:], mode="nearest")
        x = fine + F.interpolate(x, size=fine.shape[-2:], mode="nearest")
        x = F.relu(self.smooth_bn(self.smooth(x)))
        return self.objectness(x)[:, 0]


class LocalisingNetwork(Protocol):
    """A network with a :class:`LocalisationHead`: the image's logit and the head's map."""

    def forward_with_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...
