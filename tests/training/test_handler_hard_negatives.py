"""The hard-negative handler: which images its term counts, its weight and its log."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from toy_training import ToyNet, toy_batch, toy_run

from fracture_desktop.training.handlers.hard_negatives import HardNegatives


def test_it_adds_the_loss_of_the_highest_scored_normals_only() -> None:
    batch = dataclasses.replace(toy_batch(8), labels=torch.tensor([1.0, 0, 0, 0, 0, 0, 0, 0]))
    # The fractured image scores highest, then normals 3 and 6; a quarter of 7 normals is 2.
    logits = torch.tensor([5.0, -2.0, -1.0, 3.0, -3.0, -4.0, 1.0, -5.0], requires_grad=True)
    handler = HardNegatives(weight=2.0)
    run = toy_run(ToyNet(), [handler], images=8)
    handler.start_epoch(run)
    base = torch.tensor(0.7)
    total = handler.image_loss(batch, logits, base)
    hardest = torch.nn.functional.softplus(torch.tensor([3.0, 1.0])).mean()
    torch.testing.assert_close(total, base + 2.0 * hardest)
    total.backward()
    assert logits.grad is not None
    assert torch.count_nonzero(logits.grad).item() == 2 and logits.grad[3] > 0 < logits.grad[6]
    # Logged unweighted, as a mean over the epoch's 8 training images.
    assert handler.log_fields(run)["hard_negative_loss"] == pytest.approx(hardest.item())


def test_a_batch_without_normals_keeps_its_loss() -> None:
    batch = dataclasses.replace(toy_batch(4), labels=torch.ones(4))
    loss = torch.tensor(0.3)
    assert HardNegatives(weight=1.0).image_loss(batch, torch.zeros(4), loss) is loss
