"""Distillation: the student learns from a frozen teacher's scores and embedding of the same
batches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

from fracture_desktop.core.inference.models import FractureNet
from fracture_desktop.training.config import TrainConfig, command_line, config_from_record
from fracture_desktop.training.distillation import EmbeddingHint, distillation_loss
from fracture_desktop.training.train import train


def test_the_loss_is_flat_where_the_student_agrees_with_the_teacher() -> None:
    teacher = torch.tensor([-3.0, 0.0, 2.5])
    agreeing = teacher.clone().requires_grad_(True)
    distillation_loss(agreeing, teacher).backward()
    assert agreeing.grad is not None
    torch.testing.assert_close(agreeing.grad, torch.zeros(3))
    # Elsewhere the gradient moves each score toward the teacher's.
    off = torch.tensor([0.0, 2.0, 0.0], requires_grad=True)
    distillation_loss(off, teacher).backward()
    assert off.grad is not None
    step = -off.grad
    assert step[0] < 0 and step[1] < 0 and step[2] > 0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_student_trains_against_a_frozen_teacher(
    smoke_config: TrainConfig, tmp_path: Path
) -> None:
    teacher_run = tmp_path / "run"
    teacher_best = train(dataclasses.replace(smoke_config, epochs=1))
    before = _digest(teacher_best)
    student = dataclasses.replace(
        smoke_config, out=str(tmp_path / "student"), epochs=1, teacher=str(teacher_run)
    )
    train(student)
    (record,) = [
        json.loads(line) for line in (tmp_path / "student" / "log.jsonl").read_text().splitlines()
    ]
    assert record["distill_loss"] > 0.0
    assert _digest(teacher_best) == before
    saved = json.loads((tmp_path / "student" / "config.json").read_text())
    command = command_line(config_from_record(saved))
    assert f"--teacher {teacher_run}" in command
    # The learning rate is recorded for every run, not only for fine-tunes.
    assert "--lr 0.001" in command
    # Both score the same augmented batch, so their inputs must be framed alike.
    with pytest.raises(ValueError, match=r"teacher input InputSpec\(size=256"):
        train(dataclasses.replace(student, out=str(tmp_path / "small"), input_size=160))
    with pytest.raises(ValueError, match="intensity='equalised'"):
        train(dataclasses.replace(student, out=str(tmp_path / "eq"), intensity="equalised"))


def test_the_hint_reads_the_students_embedding_and_trains_its_features() -> None:
    torch.manual_seed(0)
    student = FractureNet()
    mean, std = torch.full((5,), 2.0), torch.tensor([1.0, 2.0, 0.5, 1.0, 0.0])
    hint = EmbeddingHint(student, FractureNet.input_spec, mean, std)
    # FractureNet pools each of its last 192 channels twice (mean and max).
    assert hint.project.in_features == 2 * FractureNet.widths[-1]
    assert hint.project.out_features == 5
    x = torch.rand(3, 1, 64, 64)
    student(x)
    # A projection that says "the teacher's mean" is exact for a teacher at its mean...
    torch.nn.init.zeros_(hint.project.weight)
    torch.nn.init.zeros_(hint.project.bias)
    assert hint.loss(mean.expand(3, -1)).item() == 0.0
    # ...and one standard deviation off is a loss of 1 per feature (the fifth never varies,
    # so it is not off at all).
    assert hint.loss((mean + std).expand(3, -1)).item() == pytest.approx(4 / 5)
    # A feature that never varies is scaled by 1, not divided by zero.
    shifted = mean.clone()
    shifted[4] += 3.0
    assert hint.loss(shifted.expand(3, -1)).item() == pytest.approx(9 / 5)
    # The loss reaches the student's own convolutions, not only the projection.
    torch.nn.init.normal_(hint.project.weight)
    student.zero_grad()
    student(x)
    hint.loss(torch.zeros(3, 5)).backward()
    assert student.stem[0].weight.grad is not None
    assert float(student.stem[0].weight.grad.abs().sum()) > 0.0


def test_a_student_trains_against_a_teachers_embedding(
    smoke_config: TrainConfig, tmp_path: Path
) -> None:
    train(dataclasses.replace(smoke_config, epochs=1))
    student = dataclasses.replace(
        smoke_config,
        out=str(tmp_path / "student"),
        epochs=1,
        teacher=str(tmp_path / "run"),
        hint_weight=1.0,
    )
    train(student)
    (record,) = [
        json.loads(line) for line in (tmp_path / "student" / "log.jsonl").read_text().splitlines()
    ]
    assert record["hint_loss"] > 0.0
    saved = json.loads((tmp_path / "student" / "config.json").read_text())
    assert "--hint-weight 1.0" in command_line(config_from_record(saved))
    with pytest.raises(ValueError, match="needs a teacher"):
        train(dataclasses.replace(student, out=str(tmp_path / "alone"), teacher=""))
