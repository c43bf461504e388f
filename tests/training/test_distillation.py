"""Distillation: the student learns from a frozen teacher's scores of the same batches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

from fracture_desktop.training.distillation import distillation_loss
from fracture_desktop.training.export import train_command
from fracture_desktop.training.train import TrainConfig, train


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
    command = train_command(saved)
    assert f"--teacher {teacher_run} --distill-weight 0.5" in command
    # The learning rate is recorded for every run, not only for fine-tunes.
    assert "--lr 0.001" in command
    # Both score the same augmented batch, so their inputs must be framed alike.
    with pytest.raises(ValueError, match="teacher input 256 px"):
        train(dataclasses.replace(student, out=str(tmp_path / "small"), input_size=160))
