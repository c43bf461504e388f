"""The training loop on a toy network: hook order, the loss sum, the schedule, stopping."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from toy_training import SPEC, ToyNet, toy_inputs, toy_run

from fracture_desktop.training.epoch_data import Batch, TrainingImages
from fracture_desktop.training.loop import (
    Handler,
    LossTerm,
    Run,
    Schedule,
    Validation,
    run_epochs,
)

LABELS = np.array([1, 0, 1, 0, 1, 0], dtype=np.float32)


def _data() -> TrainingImages:
    return TrainingImages(toy_inputs(6), LABELS, SPEC.channels)


def _validation() -> Validation:
    return Validation(toy_inputs(4, seed=1), np.array([1, 0, 1, 0]), 1)


class Recorder(Handler):
    """Writes down every hook the loop calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, run: Run) -> None:
        self.calls.append("start")

    def start_epoch(self, run: Run) -> None:
        self.calls.append("start_epoch")

    def forward(self, model: nn.Module, net_input: torch.Tensor) -> None:
        self.calls.append("forward")

    def image_loss(self, batch: Batch, logits: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        self.calls.append("image_loss")
        return loss

    def extra_loss(self, batch: Batch) -> None:
        self.calls.append("extra_loss")

    def after_step(self, run: Run) -> None:
        self.calls.append(f"after_step {run.step}/{run.steps}")

    def end_of_training(self, run: Run) -> None:
        self.calls.append("end_of_training")

    def val_logits(self, model: nn.Module) -> None:
        self.calls.append("val_logits")

    def log_fields(self, run: Run) -> dict[str, float]:
        self.calls.append("log_fields")
        return {"seen": run.seen}

    def after_epoch(self, run: Run, record: dict[str, Any]) -> None:
        self.calls.append(f"after_epoch {sorted(record)}")

    def should_stop(self, run: Run) -> bool:
        self.calls.append("should_stop")
        return False


def test_the_loop_calls_each_hook_at_its_point() -> None:
    torch.manual_seed(0)
    recorder = Recorder()
    run = toy_run(ToyNet(), [recorder], images=6)
    run_epochs(run, _data(), Schedule(0.1, 1, 60.0, 4), nn.BCEWithLogitsLoss(), _validation())
    step = ["forward", "image_loss", "extra_loss"]
    record = sorted(["epoch", "train_loss", "seen", "val_auc", "elapsed_s"])
    assert recorder.calls == [
        "start",
        "start_epoch",
        *step,
        "after_step 1/2",
        *step,
        "after_step 2/2",
        "end_of_training",
        "val_logits",
        "log_fields",
        f"after_epoch {record}",
        "should_stop",
    ]
    (logged,) = run.state["history"]
    assert logged["seen"] == 6 and run.state["epoch"] == 1


class Frozen(LossTerm):
    """Replaces the labels' loss by nothing and adds its own term on a parameter it owns."""

    log_key = "own_loss"

    def __init__(self) -> None:
        super().__init__(weight=3.0)
        self.own = nn.Parameter(torch.zeros(2))

    def parameters(self) -> list[nn.Parameter]:
        return [self.own]

    def image_loss(self, batch: Batch, logits: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        return 0.0 * loss

    def extra_loss(self, batch: Batch) -> torch.Tensor:
        return self.weight * self.measured(self.own.sum() + 1.0, batch)


def test_the_step_minimises_the_reshaped_loss_plus_the_handlers_terms() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    before = [p.detach().clone() for p in model.parameters()]
    handler = Frozen()
    run = toy_run(model, [handler], images=6)
    # One epoch in one batch, at a learning rate of 0.1 for the whole step.
    run_epochs(run, _data(), Schedule(0.1, 1, 60.0, 6), nn.BCEWithLogitsLoss(), _validation())
    # The labels' loss was multiplied by 0: the network did not move...
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # ...while the handler's term did: gradient 3 per element, one SGD step of 0.1.
    torch.testing.assert_close(handler.own.detach(), torch.full((2,), -0.3))
    # Its loss is logged as a mean per training image: 1.0 for each of the 6.
    (record,) = run.state["history"]
    assert record["own_loss"] == pytest.approx(1.0)
    assert record["train_loss"] > 0


def test_the_learning_rate_falls_on_a_cosine_over_the_epochs() -> None:
    schedule = Schedule(lr=0.2, epochs=4, budget_s=3600.0, batch_size=2)
    assert schedule.rate(0.0) == pytest.approx(0.2)
    assert schedule.rate(0.5) == pytest.approx(0.1)
    assert schedule.rate(1.0) == pytest.approx(0.0)
    assert schedule.rate(3.0) == pytest.approx(0.0)
    seen: list[float] = []

    class Rates(Handler):
        def after_step(self, run: Run) -> None:
            seen.append(run.optimiser.param_groups[0]["lr"])

    torch.manual_seed(0)
    run = toy_run(ToyNet(), [Rates()], images=6)
    run_epochs(run, _data(), schedule, nn.BCEWithLogitsLoss(), _validation())
    # Three steps per epoch, four epochs: step k of 12 uses the rate at k / 12.
    expected = [0.2 * 0.5 * (1 + math.cos(math.pi * k / 12)) for k in range(12)]
    assert seen == pytest.approx(expected)


class StopAfter(Handler):
    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def should_stop(self, run: Run) -> bool:
        return run.state["epoch"] >= self.epochs


def test_a_handler_or_the_budget_ends_the_run() -> None:
    torch.manual_seed(0)
    run = toy_run(ToyNet(), [StopAfter(2)], images=6)
    run_epochs(run, _data(), Schedule(0.1, 5, 60.0, 4), nn.BCEWithLogitsLoss(), _validation())
    assert run.state["epoch"] == 2
    # A budget spent during the first epoch ends the run after it.
    run = toy_run(ToyNet(), [], images=6)
    run_epochs(run, _data(), Schedule(0.1, 5, 1e-9, 4), nn.BCEWithLogitsLoss(), _validation())
    assert run.state["epoch"] == 1


class Oracle(Handler):
    """Scores val itself, perfectly in epoch 2 only; offers a copy of the model as scored."""

    def __init__(self, model: nn.Module) -> None:
        self.copy = ToyNet()
        self.copy.load_state_dict(model.state_dict())
        self.scored_models: list[nn.Module] = []

    def scored(self, model: nn.Module) -> nn.Module:
        return self.copy

    def val_logits(self, model: nn.Module) -> np.ndarray:
        self.scored_models.append(model)
        perfect = len(self.scored_models) == 2
        return np.array([1.0, 0.0, 1.0, 0.0]) * (1 if perfect else -1)


def test_val_scores_the_handlers_model_and_the_best_epoch_is_kept() -> None:
    torch.manual_seed(0)
    model = ToyNet()
    oracle = Oracle(model)
    run = toy_run(model, [oracle], images=6)
    run_epochs(run, _data(), Schedule(0.1, 3, 60.0, 4), nn.BCEWithLogitsLoss(), _validation())
    assert oracle.scored_models == [oracle.copy] * 3
    assert [r["val_auc"] for r in run.state["history"]] == [0.0, 1.0, 0.0]
    assert (run.state["best_epoch"], run.state["best_auc"]) == (2, 1.0)
