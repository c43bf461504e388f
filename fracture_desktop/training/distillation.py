"""Knowledge distillation: a trained teacher's soft scores as a second target for the student.

The teacher sees the very batch the student sees, augmentation included: consistent views
are what makes distillation work on small data (Beyer et al. 2022, "Knowledge distillation:
A good teacher is patient and consistent").
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.training.architectures import best_of_run

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
        if (spec.size, spec.letterbox) != (student_spec.size, student_spec.letterbox):
            raise ValueError(
                f"teacher input {spec.size} px (letterbox {spec.letterbox}) differs from the "
                f"student's {student_spec.size} px (letterbox {student_spec.letterbox})"
            )
        self.channels = spec.channels

    def logits(self, grey: torch.Tensor) -> torch.Tensor:
        """The teacher's logits for a batch of grey inputs (n, 1, size, size)."""
        with torch.no_grad():
            return self.model(grey.expand(-1, self.channels, -1, -1))


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the student's softened sigmoid against the teacher's.

    Scaled by ``TEMPERATURE ** 2`` so that its gradients keep the size of the hard-label
    loss's whatever the temperature (Hinton et al. 2015, section 2).
    """
    target = torch.sigmoid(teacher / TEMPERATURE)
    return F.binary_cross_entropy_with_logits(student / TEMPERATURE, target) * TEMPERATURE**2
