"""The box guide handler: its weighted loss, its log, its trained head and its state."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from toy_training import SPEC, ToyNet, toy_batch, toy_masks, toy_run

from fracture_desktop.training.handlers.box_guide import BoxGuideLoss


def test_it_adds_the_weighted_cell_loss_of_the_batch_the_network_saw() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    handler = BoxGuideLoss(model, SPEC, *toy_masks(8), weight=2.0)
    assert handler.guide.grid == [16, 16]
    # Half the 8 images hold a 4 x 4 box: 64 box cells of 2,048, weighed by the square root
    # of the free-to-box ratio.
    assert handler.cell_weight == pytest.approx((1984 / 64) ** 0.5)
    batch = toy_batch(4)
    model(batch.net_input)
    own = handler.guide.loss(batch.masks, batch.known, handler.cell_weight)
    run = toy_run(model, [handler], images=8)
    handler.start_epoch(run)
    torch.testing.assert_close(handler.extra_loss(batch), 2.0 * own)
    # Logged unweighted, as a mean over the epoch's 8 training images (4 seen so far).
    assert handler.log_fields(run)["box_loss"] == pytest.approx(own.item() * 4 / 8)
    handler.start_epoch(run)
    assert handler.log_fields(run) == {"box_loss": 0.0}


def test_its_head_is_trained_and_saved_with_the_run() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    handler = BoxGuideLoss(model, SPEC, *toy_masks(4), weight=1.0)
    assert [p.shape for p in handler.parameters()] == [torch.Size([1, 4, 1, 1]), (1,)]
    other = BoxGuideLoss(ToyNet(), SPEC, *toy_masks(4), weight=1.0)
    assert not torch.equal(other.guide.head.weight, handler.guide.head.weight)
    other.load_state_dict(handler.state_dict())
    assert torch.equal(other.guide.head.weight, handler.guide.head.weight)
    assert BoxGuideLoss.checkpoint_key == "guide"


def test_it_refuses_batches_without_masks() -> None:
    model = ToyNet()
    handler = BoxGuideLoss(model, SPEC, *toy_masks(4), weight=1.0)
    batch = toy_batch(4)
    model(batch.net_input)
    with pytest.raises(ValueError, match="box masks"):
        handler.extra_loss(dataclasses.replace(batch, masks=None, known=None))
