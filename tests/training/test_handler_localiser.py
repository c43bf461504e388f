"""The localiser handler: the network's map in the forward pass, its loss, its val figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from toy_training import SPEC, ToyNet, toy_batch, toy_inputs, toy_masks, toy_run

from fracture_desktop.training.handlers.localiser import LocaliserLoss
from fracture_desktop.training.map_cells import cell_loss
from fracture_desktop.training.scoring import predict_with_maps


def _handler(val_masks: np.ndarray) -> LocaliserLoss:
    val_labels = np.array([1, 0, 1, 0])
    known = np.ones(4, dtype=bool)
    return LocaliserLoss(
        SPEC,
        *toy_masks(8),
        toy_inputs(4, seed=1),
        val_labels,
        val_masks,
        known,
        weight=0.5,
    )


def test_it_runs_the_network_with_its_map_and_adds_the_maps_loss() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    handler = _handler(toy_masks(4)[0])
    batch = toy_batch(4)
    with pytest.raises(RuntimeError, match="has not run"):
        handler.extra_loss(batch)
    logits = handler.forward(model, batch.net_input)
    expected_logits, maps = model.forward_with_map(batch.net_input)
    torch.testing.assert_close(logits, expected_logits)
    run = toy_run(model, [handler], images=8)
    handler.start_epoch(run)
    own = cell_loss(maps[:, 0], batch.masks, batch.known, handler.cell_weight)
    torch.testing.assert_close(handler.extra_loss(batch), 0.5 * own)
    assert handler.log_fields(run)["map_loss"] == pytest.approx(own.item() / 2)


def test_val_is_scored_with_the_maps_and_the_pointing_game_logged() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    # Every val mask covers the whole image: each fractured image's top cell is a hit...
    full = _handler(np.ones((4, 16, 16), dtype=np.uint8))
    logits = full.val_logits(model)
    np.testing.assert_allclose(logits, predict_with_maps(model, toy_inputs(4, seed=1), 1)[0])
    assert full.log_fields(toy_run(model, [full]))["val_pointing"] == 1.0
    # ...and with empty masks none is.
    empty = _handler(np.zeros((4, 16, 16), dtype=np.uint8))
    empty.val_logits(model)
    assert empty.log_fields(toy_run(model, [empty]))["val_pointing"] == 0.0
