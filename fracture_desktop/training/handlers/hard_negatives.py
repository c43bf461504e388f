"""Online hard-negative mining: more loss on the normals a batch's network scores highest.

Outside FracAtlas a network that fails flags normals, above all close-up wrist and forearm
fields; inside it, the val normals the shipped model scores highest are the same kind of
image. Each step adds the cross-entropy of the batch's hardest normals (the share with the
highest logits), so those images weigh more than the easy ones without a second pass over
the training set (Shrivastava et al. 2016, "Training Region-based Object Detectors with
Online Hard Example Mining", restricted here to the negative class).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from fracture_desktop.training.epoch_data import Batch
from fracture_desktop.training.loop import LossTerm


class HardNegatives(LossTerm):
    """Add ``weight`` times the mean cross-entropy of the batch's hardest normals.

    Parameters
    ----------
    weight : float
        The term's weight beside the image-level loss.
    """

    log_key = "hard_negative_loss"
    #: Share of the batch's normals counted, those with the highest logits (at least one).
    share = 0.25

    def image_loss(self, batch: Batch, logits: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        normals = logits[batch.labels == 0]
        if not normals.numel():
            return loss
        hardest = normals.topk(max(1, math.ceil(self.share * normals.numel()))).values
        term = F.binary_cross_entropy_with_logits(hardest, torch.zeros_like(hardest))
        return loss + self.weight * self.measured(term, batch)
