"""Learning from a finished run: the teacher's scores (distillation) and its image embedding
(the hint), as handlers. See ``training/distillation.py``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.training.distillation import EmbeddingHint, Teacher, distillation_loss
from fracture_desktop.training.epoch_data import Batch
from fracture_desktop.training.loop import LossTerm
from fracture_desktop.training.scoring import batches


class Distillation(LossTerm):
    """The image-level loss becomes ``(1 - weight)`` times the labels' loss plus ``weight``
    times the distillation loss on the teacher's scores of the same augmented batch.

    The teacher's embedding of the batch is kept for :class:`Hint`.
    """

    log_key = "distill_loss"

    def __init__(self, teacher: Teacher, weight: float) -> None:
        super().__init__(weight)
        self.teacher = teacher
        self._embedding: torch.Tensor | None = None

    @property
    def embedding(self) -> torch.Tensor:
        """The teacher's embedding of the latest batch."""
        if self._embedding is None:
            raise RuntimeError("the teacher has not scored a batch yet")
        return self._embedding

    def image_loss(self, batch: Batch, logits: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        teacher_logits, self._embedding = self.teacher.scores(batch.grey)
        distill = self.measured(distillation_loss(logits, teacher_logits), batch)
        return (1 - self.weight) * loss + self.weight * distill


class Hint(LossTerm):
    """Add ``weight`` times the :class:`EmbeddingHint` loss against the teacher's embedding of
    the same batch (as :class:`Distillation` keeps it); the hint's map is trained too.

    Parameters
    ----------
    student : nn.Module
        The network being trained.
    spec : InputSpec
        Its input.
    distillation : Distillation
        The run's distillation handler, listed before this one.
    train_inputs : np.ndarray
        Cached training inputs (N, size, size): the teacher's embedding is standardised
        over them.
    weight : float
        The loss's weight.
    """

    log_key = "hint_loss"
    checkpoint_key = "hint"

    def __init__(
        self,
        student: nn.Module,
        spec: InputSpec,
        distillation: Distillation,
        train_inputs: np.ndarray,
        weight: float,
    ) -> None:
        super().__init__(weight)
        self._distillation = distillation
        statistics = distillation.teacher.embedding_statistics(batches(train_inputs, 1))
        self.hint = EmbeddingHint(student, spec, *statistics)

    def parameters(self) -> list[nn.Parameter]:
        return list(self.hint.parameters())

    def extra_loss(self, batch: Batch) -> torch.Tensor:
        loss = self.hint.loss(self._distillation.embedding)
        return self.weight * self.measured(loss, batch)

    def state_dict(self) -> dict[str, Any]:
        return self.hint.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.hint.load_state_dict(state)
