"""Where the fracture is: a small head on a backbone's feature pyramid, and the maps it
gives.

FracAtlas' fracture boxes are small (median about 14 x 15 px once an image is letterboxed to
256 px), so one cell of a stride-16 map holds a whole fracture and a peak there says little
about where inside it the fracture lies. The head therefore merges the stride-16, stride-8
and stride-4 features (a minimal feature pyramid, Lin et al. 2017) and predicts on the
stride-4 grid.

Two kinds of head share this module:

- an **objectness** head (``box_sizes=False``, efficientnet_lite0-v3): one logit per cell,
  whether a fracture box touches it, trained with the box masks
  (:func:`fracture_desktop.training.map_cells.cell_loss`);
- a **centre** head (``box_sizes=True``): CenterNet's recipe (Zhou et al. 2019, "Objects as
  Points"): a logit per cell peaking at each fracture's centre, and the box's width and
  height (log input pixels) read at the peak, trained by
  :mod:`fracture_desktop.training.localiser_fit`.

Either way the head's output is a stack of maps (N, channels, rows, cols) that
:func:`fracture_desktop.core.boxes.read_maps` turns into what
:func:`fracture_desktop.core.boxes.decode_boxes` reads, without torch.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fracture_desktop.core import boxes

#: Box size the size channels start at (input pixels): about the median FracAtlas box at
#: 256 px, so that early steps are not spent growing every box from 1 px.
INITIAL_BOX_SIZE = 16.0


class LocalisationHead(nn.Module):
    """A feature pyramid over three backbone levels, ending in maps on the stride-4 grid.

    Parameters
    ----------
    channels : tuple of int
        Channels of the backbone's features at strides 4, 8 and 16, in that order.
    width : int
        Channels of the pyramid.
    box_sizes : bool
        Also predict each box's width and height (a centre head); else objectness alone.
    depth : int
        3 x 3 convolutions after the merge; more see further around each cell.
    """

    def __init__(
        self,
        channels: tuple[int, int, int],
        width: int = 32,
        box_sizes: bool = False,
        depth: int = 1,
    ) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        # Conv then batch norm as direct siblings, so that inference folds the pair.
        self.smooth = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.smooth_bn = nn.BatchNorm2d(width)
        self.refine = nn.Sequential(
            *(
                layer
                for _ in range(depth - 1)
                for layer in (
                    nn.Conv2d(width, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                )
            )
        )
        self.objectness = nn.Conv2d(width, 1, 1)
        # Fractures cover well under 1% of cells: start every cell near that prior
        # (Lin et al. 2017, focal loss paper) so that early steps are not spent unlearning 0.5.
        assert self.objectness.bias is not None
        nn.init.constant_(self.objectness.bias, -4.6)
        self.size = nn.Conv2d(width, 2, 1) if box_sizes else None
        if self.size is not None:
            assert self.size.bias is not None
            nn.init.constant_(self.size.bias, math.log(INITIAL_BOX_SIZE))

    def forward(self, features: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Stride-4, -8 and -16 features -> maps (N, 1 or 3, rows, cols) on the stride-4
        grid: the objectness (or centre) logit, then, for a centre head, the box's log
        width and log height in input pixels."""
        fine, middle, coarse = (lat(f) for lat, f in zip(self.lateral, features, strict=True))
        x = middle + F.interpolate(coarse, size=middle.shape[-2:], mode="nearest")
        x = fine + F.interpolate(x, size=fine.shape[-2:], mode="nearest")
        x = self.refine(F.relu(self.smooth_bn(self.smooth(x))))
        if self.size is None:
            return self.objectness(x)
        return torch.cat([self.objectness(x), self.size(x)], dim=1)


def read_maps(raw: torch.Tensor) -> np.ndarray:
    """A head's raw maps -> float32 numpy (N, channels, rows, cols): the score as a
    probability and, where present, box width and height in input pixels
    (:func:`fracture_desktop.core.boxes.read_maps`, which the ONNX engine uses too)."""
    return boxes.read_maps(raw.detach().float().cpu().numpy())


class LocalisingNetwork(Protocol):
    """A network with a :class:`LocalisationHead`: the image's logit and the head's maps."""

    def forward_with_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...
