"""The localisation head's loss for localising networks (``forward_with_map``), and its
pointing game on val."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.training.epoch_data import Batch
from fracture_desktop.training.loop import LossTerm, Run
from fracture_desktop.training.map_cells import cell_loss, positive_weight
from fracture_desktop.training.scoring import predict_with_maps, top_cell_pointing


def batch_masks(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's box masks and whether each is known; an error when it carries none."""
    if batch.masks is None or batch.known is None:
        raise ValueError("this loss needs the batches' box masks")
    return batch.masks, batch.known


class LocaliserLoss(LossTerm):
    """Run the network with its map; add ``weight`` times the map's cell loss on the box
    masks; score val with the maps and log the share of fractured val images whose top cell
    lies in a box (``val_pointing``).

    Parameters
    ----------
    spec : InputSpec
        The network's input; its map has a cell per 4 x 4 input pixels.
    masks, known : np.ndarray
        The training images' box masks and whether each is known.
    val_inputs, val_labels, val_masks, val_known : np.ndarray
        Val's cached inputs, labels, box masks and known masks.
    weight : float
        The cell loss's weight.
    """

    log_key = "map_loss"

    def __init__(
        self,
        spec: InputSpec,
        masks: np.ndarray,
        known: np.ndarray,
        val_inputs: np.ndarray,
        val_labels: np.ndarray,
        val_masks: np.ndarray,
        val_known: np.ndarray,
        weight: float,
    ) -> None:
        super().__init__(weight)
        self.cell_weight = positive_weight(masks, known, (spec.size // 4, spec.size // 4))
        self._channels = spec.channels
        self._val_inputs, self._val_masks = val_inputs, val_masks
        self._pointed = val_known & (val_labels == 1)
        self._maps: torch.Tensor | None = None
        self._pointing = float("nan")

    def forward(self, model: nn.Module, net_input: torch.Tensor) -> torch.Tensor:
        logits, self._maps = model.forward_with_map(net_input)
        return logits

    def extra_loss(self, batch: Batch) -> torch.Tensor:
        if self._maps is None:
            raise RuntimeError("the network has not run on the batch")
        masks, known = batch_masks(batch)
        loss = cell_loss(self._maps[:, 0], masks, known, self.cell_weight)
        return self.weight * self.measured(loss, batch)

    def val_logits(self, model: nn.Module) -> np.ndarray:
        logits, maps = predict_with_maps(model, self._val_inputs, self._channels)
        self._pointing = top_cell_pointing(maps, self._val_masks, self._pointed)
        return logits

    def log_fields(self, run: Run) -> dict[str, float]:
        return {**super().log_fields(run), "val_pointing": self._pointing}
