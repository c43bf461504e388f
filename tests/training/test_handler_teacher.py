"""Distillation and the embedding hint as handlers, with a stand-in teacher."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest
import torch
from toy_training import SPEC, ToyNet, toy_batch, toy_inputs, toy_run

from fracture_desktop.training.distillation import distillation_loss
from fracture_desktop.training.handlers.teacher import Distillation, Hint


class StandIn:
    """A teacher that scores every batch alike and remembers what it was shown."""

    def __init__(self) -> None:
        self.shown: list[torch.Tensor] = []

    def scores(self, grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.shown.append(grey)
        n = len(grey)
        return torch.linspace(-2.0, 2.0, n), torch.arange(3.0).expand(n, -1) + grey.mean()

    def embedding_statistics(
        self, batches: Iterable[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        stacked = torch.cat([self.scores(batch)[1] for batch in batches])
        return stacked.mean(dim=0), stacked.std(dim=0)


def test_distillation_mixes_the_labels_loss_with_the_teachers_scores() -> None:
    teacher = StandIn()
    handler = Distillation(teacher, weight=0.25)  # type: ignore[arg-type]
    batch = toy_batch(4)
    logits, loss = torch.tensor([0.5, -0.5, 1.0, 0.0]), torch.tensor(0.7)
    run = toy_run(ToyNet(), [handler], images=8)
    handler.start_epoch(run)
    mixed = handler.image_loss(batch, logits, loss)
    distill = distillation_loss(logits, torch.linspace(-2.0, 2.0, 4))
    torch.testing.assert_close(mixed, 0.75 * loss + 0.25 * distill)
    # The teacher saw the augmented grey batch, not the network's input.
    assert teacher.shown[-1] is batch.grey
    assert handler.log_fields(run) == {"distill_loss": pytest.approx(distill.item() / 2)}
    assert handler.extra_loss(batch) is None


def test_the_hint_reads_the_embedding_the_teacher_gave_for_this_batch() -> None:
    torch.manual_seed(0)
    teacher = StandIn()
    distillation = Distillation(teacher, weight=0.5)  # type: ignore[arg-type]
    model = ToyNet()
    hint = Hint(model, SPEC, distillation, toy_inputs(6), weight=2.0)
    # Standardised over the teacher's embeddings of the training images, as they are.
    (shown,) = teacher.shown
    np.testing.assert_array_equal(shown[:, 0].numpy(), toy_inputs(6))
    batch = toy_batch(4)
    with pytest.raises(RuntimeError, match="not scored a batch"):
        hint.extra_loss(batch)
    model(batch.net_input)
    distillation.image_loss(batch, torch.zeros(4), torch.tensor(0.0))
    run = toy_run(model, [distillation, hint], images=4)
    hint.start_epoch(run)
    own = hint.hint.loss(distillation.embedding)
    torch.testing.assert_close(hint.extra_loss(batch), 2.0 * own)
    assert hint.log_fields(run) == {"hint_loss": pytest.approx(own.item())}
    # The map is trained with the network and saved with the run.
    assert {id(p) for p in hint.parameters()} == {id(p) for p in hint.hint.project.parameters()}
    other = Hint(ToyNet(), SPEC, distillation, toy_inputs(6), weight=2.0)
    other.load_state_dict(hint.state_dict())
    assert torch.equal(other.hint.project.weight, hint.hint.project.weight)
    assert (Hint.checkpoint_key, Distillation.checkpoint_key) == ("hint", None)
