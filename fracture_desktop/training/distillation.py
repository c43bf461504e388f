"""Knowledge distillation: a trained teacher's soft scores, and optionally its image
embedding, as further targets for the student.

The teacher sees the very batch the student sees, augmentation included: consistent views
are what makes distillation work on small data (Beyer et al. 2022, "Knowledge distillation:
A good teacher is patient and consistent"). A teacher fitted to the same training images
scores them almost as their labels, so its soft scores carry little that the labels do not;
its embedding (the pooled features its classifier reads, 1,280 values for Lite0) carries
what its ImageNet start learnt about edges and textures, and a student that must predict it
from its own features is pushed to learn them too (a hint, Romero et al. 2015, "FitNets").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.training.architectures import best_of_run, run_blank

#: Softens both scores before they are compared (Hinton et al. 2015).
TEMPERATURE = 2.0


class Teacher:
    """A finished training run's best weights, frozen, scoring the student's batches.

    Parameters
    ----------
    run_dir
        A ``fracture-desktop train`` run folder: its ``config.json`` names the architecture
        and ``best.pt`` holds the weights.
    student_spec
        The student's input; the teacher must read the same size and framing, since both
        score the same augmented batch.
    """

    def __init__(self, run_dir: Path, student_spec: InputSpec) -> None:
        _, arch, self.model = best_of_run(run_dir)
        spec = arch.input_spec
        if replace(spec, channels=1) != replace(student_spec, channels=1):
            raise ValueError(f"teacher input {spec} differs from the student's {student_spec}")
        self.channels = spec.channels
        self._embedding = _InputOf(self.model.classifier)

    def scores(self, grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's logits (n,) and image embeddings (n, features) for grey inputs
        (n, 1, size, size)."""
        with torch.no_grad():
            logits = self.model(grey.expand(-1, self.channels, -1, -1))
        return logits, self._embedding.value()

    def embedding_statistics(
        self, batches: Iterable[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of each embedding feature over grey batches
        (n, 1, size, size), the training images as they are, for :class:`EmbeddingHint`."""
        stacked = torch.cat([self.scores(batch)[1] for batch in batches])
        return stacked.mean(dim=0), stacked.std(dim=0)


class _InputOf:
    """Keeps the input of ``layer``'s latest call, flattened per image."""

    def __init__(self, layer: nn.Module) -> None:
        self._latest: torch.Tensor | None = None
        layer.register_forward_pre_hook(self._keep)

    def _keep(self, _layer: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self._latest = inputs[0].flatten(1)

    def value(self) -> torch.Tensor:
        # Both users run the network before they ask (the hint once when it is made).
        assert self._latest is not None
        return self._latest


class EmbeddingHint(nn.Module):
    """A training-only linear map from the student's image embedding to the teacher's.

    Its loss is the mean squared error against the teacher's embedding, each feature
    standardised over the training images so that none dominates by scale. Like the box
    guide, the map is dropped after training: the shipped network does not change.

    Parameters
    ----------
    student : nn.Module
        The network being trained; the input of its ``classifier`` is read through a hook.
    spec : InputSpec
        The student's input, used once to find the length of its embedding.
    mean, std : torch.Tensor
        The teacher embedding's statistics, from :meth:`Teacher.embedding_statistics`.
    """

    def __init__(
        self, student: nn.Module, spec: InputSpec, mean: torch.Tensor, std: torch.Tensor
    ) -> None:
        super().__init__()
        self._embedding = _InputOf(student.classifier)
        run_blank(student, spec)
        self.project = nn.Linear(self._embedding.value().shape[1], len(mean))
        self.register_buffer("mean", mean)
        # Features the teacher never varies carry nothing to learn; 1 keeps them harmless.
        self.register_buffer("std", torch.where(std > 1e-6, std, torch.ones_like(std)))

    def loss(self, teacher_embedding: torch.Tensor) -> torch.Tensor:
        """The hint loss for the batch the student has just seen."""
        target = (teacher_embedding - self.mean) / self.std
        return F.mse_loss(self.project(self._embedding.value()), target)


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the student's softened sigmoid against the teacher's.

    Scaled by ``TEMPERATURE ** 2`` so that its gradients keep the size of the hard-label
    loss's whatever the temperature (Hinton et al. 2015, section 2).
    """
    target = torch.sigmoid(teacher / TEMPERATURE)
    return F.binary_cross_entropy_with_logits(student / TEMPERATURE, target) * TEMPERATURE**2
