"""A toy network and batches for the training loop's and handlers' unit tests: milliseconds,
no data set."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.training.epoch_data import Batch
from fracture_desktop.training.loop import Handler, Run

#: The toy network's input: 16 px grey images.
SPEC = InputSpec(16, True, 1)


class ToyNet(nn.Module):
    """Convolution, batch norm and ReLU (the Grad-CAM layer), mean pooling, a linear
    classifier; :meth:`forward_with_map` also gives an objectness head's maps (N, 1, rows,
    cols) at a quarter of the input size."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.classifier = nn.Linear(4, 1)
        self.map_head = nn.Conv2d(4, 1, 1)

    @property
    def cam_layer(self) -> nn.Module:
        return self.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))[:, 0]

    def forward_with_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        cells = self.map_head(nn.functional.avg_pool2d(features, 4))
        return self.classifier(features.mean(dim=(2, 3)))[:, 0], cells


def toy_inputs(n: int, seed: int = 0) -> np.ndarray:
    """``n`` cached-input-like images (n, 16, 16) in [0, 1]."""
    return np.random.default_rng(seed).random((n, 16, 16), dtype=np.float32)


def toy_masks(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Box masks (n, 16, 16) with one 4 x 4 box in the even images, and all known."""
    masks = np.zeros((n, 16, 16), dtype=np.uint8)
    masks[::2, 4:8, 8:12] = 1
    return masks, np.ones(n, dtype=bool)


def toy_batch(n: int = 4, with_masks: bool = True) -> Batch:
    """A batch of ``n`` toy images, alternately fractured (with a box) and not."""
    grey = torch.from_numpy(toy_inputs(n))[:, None]
    labels = torch.tensor([1.0, 0.0] * (n // 2))
    masks, known = toy_masks(n)
    return Batch(
        grey.contiguous(memory_format=torch.channels_last),
        labels,
        torch.from_numpy(masks)[:, None] if with_masks else None,
        torch.from_numpy(known) if with_masks else None,
        n,
    )


def toy_run(model: nn.Module, handlers: list[Handler], images: int = 4) -> Run:
    """A run of ``model`` with plain SGD over its parameters and the handlers'."""
    parameters = [*model.parameters(), *(p for h in handlers for p in h.parameters())]
    return Run(model, torch.optim.SGD(parameters, lr=0.1), handlers, images)
