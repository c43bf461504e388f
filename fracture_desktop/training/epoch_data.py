"""The training split as the loop draws it: each epoch's order, each batch's augmentation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from fracture_desktop.training.acquisition import (
    acquisition_noise,
    framing_augmentation,
    side_by_side,
)
from fracture_desktop.training.augment import (
    augment_batch,
    augment_batch_with_masks,
    training_augmentation,
)


@dataclass(frozen=True)
class Batch:
    """One step's training images as the network and the handlers see them.

    Attributes
    ----------
    net_input : torch.Tensor
        The augmented images as the network reads them (n, channels, size, size).
    labels : torch.Tensor
        Image labels (n,), float.
    masks, known : torch.Tensor or None
        Box masks moved with their images (n, 1, size, size) and whether each is known
        (n,); None when no handler and no augmentation needs them.
    size : int
        Training images drawn for the step (what per-image means divide by).
    """

    net_input: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor | None
    known: torch.Tensor | None
    size: int


class Batches(Protocol):
    """The training images as the loop draws them (:class:`TrainingImages`, or a test's)."""

    def __len__(self) -> int: ...

    def order(self) -> np.ndarray:
        """This epoch's order of draws (indices into the images)."""
        ...

    def batch(self, indices: np.ndarray) -> Batch:
        """The images at ``indices``, augmented."""
        ...


class TrainingImages:
    """Cached training inputs, their labels and box masks, drawn and augmented per batch.

    Parameters
    ----------
    inputs : np.ndarray
        Cached model inputs (N, size, size).
    labels : np.ndarray
        Image labels (N,), float32.
    channels : int
        The network's input channels (grey images are repeated to fill them).
    masks, known : np.ndarray or None
        Box masks (N, size, size) and whether each is known (N,), moved with their images by
        the augmentation; None when nothing needs them.
    draw : np.ndarray or None
        Probability of each image per draw: an epoch then draws N images with replacement
        (see :func:`~fracture_desktop.training.acquisition.source_weights`); None draws each
        image once in a random order.
    shift_robust : bool
        Randomise framing and acquisition (``training/acquisition.py``): two images on one
        film for a tenth of each batch, a wider framing augmentation and acquisition noise.
        Needs ``masks``.
    """

    def __init__(
        self,
        inputs: np.ndarray,
        labels: np.ndarray,
        channels: int,
        masks: np.ndarray | None = None,
        known: np.ndarray | None = None,
        draw: np.ndarray | None = None,
        shift_robust: bool = False,
    ) -> None:
        if shift_robust and masks is None:
            raise ValueError("shift-robust training moves box masks with the images")
        self.inputs, self.labels, self.channels = inputs, labels, channels
        self.masks, self.known = masks, known
        self.draw = draw
        self.shift_robust = shift_robust
        self.transform = framing_augmentation() if shift_robust else training_augmentation()

    def __len__(self) -> int:
        return len(self.inputs)

    def order(self) -> np.ndarray:
        """This epoch's draws, from numpy's global generator."""
        if self.draw is not None:
            return np.random.choice(len(self), len(self), p=self.draw)
        return np.random.permutation(len(self))

    def batch(self, indices: np.ndarray) -> Batch:
        """The images at ``indices``, augmented with fresh random parameters each."""
        x = torch.from_numpy(np.asarray(self.inputs[indices]))[:, None]
        y = torch.from_numpy(self.labels[indices])
        box_mask = mask_known = None
        if self.masks is not None and self.known is not None:
            box_mask = torch.from_numpy(self.masks[indices])[:, None]
            mask_known = torch.from_numpy(self.known[indices])
            if self.shift_robust:
                x, box_mask, y, mask_known = side_by_side(x, box_mask, y, mask_known, 0.1)
            x, box_mask = augment_batch_with_masks(x, box_mask, self.transform)
            if self.shift_robust:
                x = torch.stack([acquisition_noise(i, m) for i, m in zip(x, box_mask, strict=True)])
        else:
            x = augment_batch(x, self.transform)
        net_input = x.expand(-1, self.channels, -1, -1).contiguous(
            memory_format=torch.channels_last
        )
        return Batch(net_input, y, box_mask, mask_known, len(indices))
