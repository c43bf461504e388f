"""Mirror averaging: score an image and its left-right mirror, and average the two.

Left and right limbs are mirror images of each other, and training already flips images
left-right (:mod:`fracture_desktop.training.augment`), so both views are equally valid
inputs; their mean logit ranks EfficientNet-Lite0's images better than either alone (val
ROC-AUC +0.004 to +0.014 at six checkpoints of four runs, ``docs/MODEL.md``), at twice
the forward cost. It does not help every network: FractureNet v3 lost 0.005 on val.
"""

from __future__ import annotations

import torch
from torch import nn


class MirrorAverage(nn.Module):
    """``net`` applied to a batch and its left-right mirror, logits averaged.

    Both views run as one batch of ``2 n`` images. The wrapped network keeps its own
    state_dict keys under ``net.``; weights are saved and loaded on the bare network, and
    the wrapper is applied after loading (the model card's ``architecture.mirror_average``).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    @property
    def cam_layer(self) -> nn.Module:
        """The wrapped network's Grad-CAM layer; it sees both views, see :meth:`merge_views`."""
        layer = self.net.cam_layer
        assert isinstance(layer, nn.Module)  # every architecture names a layer
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        logits = self.net(torch.cat([x, x.flip(-1)]))
        return (logits[:n] + logits[n:]) / 2

    @staticmethod
    def merge_views(maps: torch.Tensor) -> torch.Tensor:
        """Per-view maps ``(2 n, h, w)`` of :meth:`forward`'s batch -> ``(n, h, w)``.

        The mirrored view's map is mirrored back, so both point at the same pixels, then the
        two are averaged, as the logits are.
        """
        n = maps.shape[0] // 2
        return (maps[:n] + maps[n:].flip(-1)) / 2
