"""Box guidance as a handler: :class:`~fracture_desktop.training.box_guidance.BoxGuide`'s
loss on the training boxes, beside the image-level loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.training.box_guidance import BoxGuide
from fracture_desktop.training.epoch_data import Batch
from fracture_desktop.training.loop import LossTerm


def batch_masks(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's box masks and whether each is known; an error when it carries none."""
    if batch.masks is None or batch.known is None:
        raise ValueError("this loss needs the batches' box masks")
    return batch.masks, batch.known


class BoxGuideLoss(LossTerm):
    """Add ``weight`` times the box guide's cell loss; the guide's head is trained too.

    Parameters
    ----------
    model : nn.Module
        The network being trained (the guide hooks its ``cam_layer``).
    spec : InputSpec
        The network's input.
    masks, known : np.ndarray
        The training images' box masks and whether each is known, for the weight of a box
        cell against a free one.
    weight : float
        The loss's weight beside the image-level loss.
    """

    log_key = "box_loss"
    checkpoint_key = "guide"

    def __init__(
        self, model: nn.Module, spec: InputSpec, masks: np.ndarray, known: np.ndarray, weight: float
    ) -> None:
        super().__init__(weight)
        self.guide = BoxGuide(model, spec)
        self.cell_weight = self.guide.positive_weight(masks, known)

    def parameters(self) -> list[nn.Parameter]:
        return list(self.guide.parameters())

    def extra_loss(self, batch: Batch) -> torch.Tensor:
        loss = self.guide.loss(*batch_masks(batch), self.cell_weight)
        return self.weight * self.measured(loss, batch)

    def state_dict(self) -> dict[str, Any]:
        return self.guide.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.guide.load_state_dict(state)
