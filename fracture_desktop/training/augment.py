"""Training-time augmentation (torchvision.transforms.v2), applied per image on cached inputs."""

from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2


def training_augmentation() -> v2.Transform:
    """Small geometric and contrast changes that a real radiograph could show.

    Horizontal flips (left and right limbs), rotations up to 10 degrees, a little zoom and
    shift (a crop of a slightly different field), and brightness/contrast as different
    exposures would give. No vertical flips: radiographs are hung upright. Fracture masks
    passed beside the images follow the geometric changes and ignore the contrast ones.
    """
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.15)),
            v2.ColorJitter(brightness=0.15, contrast=0.2),
            v2.Lambda(lambda x: x.clamp_(0.0, 1.0), tv_tensors.Image),
        ]
    )


def augment_batch(batch: torch.Tensor, transform: v2.Transform) -> torch.Tensor:
    """Apply ``transform`` with fresh random parameters to each image of ``batch``."""
    return torch.stack([transform(tv_tensors.Image(image)) for image in batch]).as_subclass(
        torch.Tensor
    )


def augment_batch_with_masks(
    batch: torch.Tensor, masks: torch.Tensor, transform: v2.Transform
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`augment_batch`, moving each image's mask (N, 1, H, W) with its image."""
    pairs = [
        transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
        for image, mask in zip(batch, masks, strict=True)
    ]
    images = torch.stack([image for image, _ in pairs]).as_subclass(torch.Tensor)
    return images, torch.stack([mask for _, mask in pairs]).as_subclass(torch.Tensor)
