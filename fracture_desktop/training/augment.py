"""Training-time augmentation (torchvision.transforms.v2), applied per image on cached inputs."""

from __future__ import annotations

import torch
from torchvision.transforms import v2


def training_augmentation() -> v2.Transform:
    """Small geometric and contrast changes that a real radiograph could show.

    Horizontal flips (left and right limbs), rotations up to 10 degrees, a little zoom and
    shift (a crop of a slightly different field), and brightness/contrast as different
    exposures would give. No vertical flips: radiographs are hung upright.
    """
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.15)),
            v2.ColorJitter(brightness=0.15, contrast=0.2),
            v2.Lambda(lambda x: x.clamp_(0.0, 1.0)),
        ]
    )


def augment_batch(batch: torch.Tensor, transform: v2.Transform) -> torch.Tensor:
    """Apply ``transform`` with fresh random parameters to each image of ``batch``."""
    return torch.stack([transform(image) for image in batch])
