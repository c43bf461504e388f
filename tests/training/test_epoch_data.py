"""The training images as the loop draws them: each epoch's order, each batch's inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from toy_training import toy_inputs, toy_masks

from fracture_desktop.training.epoch_data import TrainingImages

LABELS = np.array([1, 0, 1, 0, 1, 0], dtype=np.float32)


def test_an_epoch_draws_each_image_once_or_by_the_draw_weights() -> None:
    np.random.seed(0)
    plain = TrainingImages(toy_inputs(6), LABELS, 1)
    assert sorted(plain.order()) == list(range(6))
    weighted = TrainingImages(toy_inputs(6), LABELS, 1, draw=np.array([0, 0, 0, 0, 0, 1.0]))
    assert weighted.order().tolist() == [5] * 6


def test_a_batch_is_augmented_and_shaped_for_the_network() -> None:
    torch.manual_seed(0)
    images = TrainingImages(toy_inputs(6), LABELS, channels=3)
    batch = images.batch(np.array([1, 2, 4]))
    assert batch.size == 3 and batch.masks is None and batch.known is None
    assert batch.net_input.shape == (3, 3, 16, 16)
    assert batch.net_input.is_contiguous(memory_format=torch.channels_last)
    assert batch.labels.tolist() == [0.0, 1.0, 1.0]
    # Augmented: not the cached pixels as they are.
    assert not torch.equal(batch.net_input[:, 0], torch.from_numpy(toy_inputs(6)[[1, 2, 4]]))


def test_masks_travel_with_their_images_and_shift_robust_needs_them() -> None:
    torch.manual_seed(0)
    masks, known = toy_masks(6)
    images = TrainingImages(toy_inputs(6), LABELS, 1, masks, known)
    batch = images.batch(np.array([0, 1]))
    assert batch.masks is not None and batch.known is not None
    assert batch.masks.shape == (2, 1, 16, 16) and batch.known.tolist() == [True, True]
    assert batch.masks[0].sum() > 0 and batch.masks[1].sum() == 0
    with pytest.raises(ValueError, match="box masks"):
        TrainingImages(toy_inputs(6), LABELS, 1, shift_robust=True)
    # Acquisition noise (markers, collimation) needs room: 128 px inputs.
    large = np.random.default_rng(0).random((6, 128, 128), dtype=np.float32)
    robust = TrainingImages(large, LABELS, 1, np.zeros(large.shape, np.uint8), known, None, True)
    batch = robust.batch(np.arange(6))
    assert batch.net_input.shape == (6, 1, 128, 128) and batch.size == 6

