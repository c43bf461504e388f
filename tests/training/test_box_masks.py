"""Box masks: boxes land where model_input puts the image, travel with it, and mark the
localisation map's cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fracture_desktop.core.imaging.model_input import InputSpec, fit_box
from fracture_desktop.training.augment import augment_batch_with_masks, training_augmentation
from fracture_desktop.training.dataset import (
    ANNOTATIONS,
    box_masks,
    fracture_boxes,
    source_samples,
)
from fracture_desktop.training.map_cells import cell_loss, cell_targets


def test_box_masks_follow_the_letterbox(fracatlas_dir: Path) -> None:
    samples = source_samples(fracatlas_dir)
    boxes = fracture_boxes(fracatlas_dir / ANNOTATIONS)
    # IMG0000025.jpg: 1280 x 1024, one box at (651.78, 893.58) of 69.0 x 68.15 pixels.
    chosen = [s for s in samples if s.image_id in {"IMG0000025.jpg", "IMG0000000.jpg"}]
    fractured, intact = sorted(chosen, key=lambda s: -s.label)
    assert (fractured.label, intact.label) == (1, 0)
    spec = InputSpec(256, True, 1)
    masks, known = box_masks([fractured, intact], spec, boxes)
    assert known.tolist() == [True, True]
    assert masks[1].sum() == 0
    rows, cols = np.nonzero(masks[0])
    top, left, height, width = fit_box((1024, 1280), 256, True)
    assert (top, left, height, width) == (25, 0, 205, 256)
    sy, sx = 205 / 1024, 256 / 1280
    assert rows.min() == int(25 + 893.58 * sy) and cols.min() == int(651.78 * sx)
    assert rows.max() == int(np.ceil(25 + (893.58 + 68.15) * sy)) - 1
    assert cols.max() == int(np.ceil((651.78 + 69.0) * sx)) - 1
    # A fractured image without boxes is unknown, not "fracture nowhere".
    _, unknown = box_masks([fractured], spec, {})
    assert unknown.tolist() == [False]


def test_masks_move_with_their_images() -> None:
    torch.manual_seed(0)
    masks = torch.zeros(8, 1, 64, 64, dtype=torch.uint8)
    masks[:, :, 20:34, 30:44] = 1
    images, moved = augment_batch_with_masks(masks.float(), masks, training_augmentation())
    assert moved.dtype == torch.uint8 and images.shape == moved.shape
    for image, mask in zip(images, moved, strict=True):
        # Contrast and brightness are monotonic: the square stays the bright part.
        bright = image > (image.min() + image.max()) / 2
        overlap = (bright & mask.bool()).sum() / (bright | mask.bool()).sum()
        assert overlap > 0.8
    assert not torch.equal(moved[0], moved[1]), "each image draws its own parameters"


def test_cells_a_box_touches_are_the_targets_and_unknown_masks_add_nothing() -> None:
    masks = torch.zeros(2, 1, 256, 256, dtype=torch.uint8)
    masks[0, 0, 100, 200] = 1
    cells = cell_targets(masks, (16, 16))
    assert cells.sum() == 1 and cells[0, 100 // 16, 200 // 16] == 1
    logits = torch.zeros(2, 16, 16)
    assert cell_loss(logits, masks, torch.tensor([True, True]), 10.0) > 0
    assert cell_loss(logits, masks, torch.tensor([False, False]), 10.0) == 0
