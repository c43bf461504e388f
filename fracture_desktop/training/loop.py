"""The training loop: epochs of batches, one forward pass, the summed loss, one optimiser step.

Everything else a run does (a weight average, extra losses, the log, checkpoints, early
stopping) is a :class:`Handler` that the loop calls at fixed points, in the order the run
lists them:

- ``start`` once before the first epoch (a resume restores the run there);
- per epoch ``start_epoch``, then per batch ``forward`` (a handler may run the network
  itself), ``image_loss`` (may reshape the image-level loss), ``extra_loss`` (terms added to
  it) and, after the optimiser's step, ``after_step``;
- after the last batch ``end_of_training`` (before val is scored), ``val_logits`` (a handler
  may score val itself), ``log_fields`` (added to the epoch's record), ``after_epoch`` (the
  record is complete) and ``should_stop``.

A handler also names the trained parameters it adds (:meth:`Handler.parameters`), the model
that val scores and ``best.pt`` keeps (:meth:`Handler.scored`) and its state in ``last.pt``
(:attr:`Handler.checkpoint_key`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.metrics import roc_auc
from fracture_desktop.training.epoch_data import Batch, Batches
from fracture_desktop.training.scoring import predict_logits


@dataclass
class Run:
    """What the loop and its handlers share.

    ``state`` is saved in ``last.pt`` as is: ``epoch`` (the last one finished),
    ``elapsed`` (training seconds), ``best_auc``, ``best_epoch`` and ``history`` (the
    epochs' records). ``step``, ``steps`` and ``loss_total`` (summed over ``seen`` images)
    describe the epoch under way.
    """

    model: nn.Module
    optimiser: torch.optim.Optimizer
    handlers: list[Handler]
    images: int
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "epoch": 0,
            "elapsed": 0.0,
            "best_auc": -1.0,
            "best_epoch": -1,
            "history": [],
        }
    )
    step: int = 0
    steps: int = 0
    loss_total: float = 0.0
    seen: int = 0

    @property
    def scored(self) -> nn.Module:
        """The weights val scores and ``best.pt`` keeps (the latest, unless a handler
        offers others)."""
        model = self.model
        for handler in self.handlers:
            model = handler.scored(model)
        return model


class Handler:
    """One feature of a training run; every hook does nothing until a subclass says so."""

    #: Key of this handler's state in ``last.pt``; None when it keeps none.
    checkpoint_key: ClassVar[str | None] = None

    def parameters(self) -> list[nn.Parameter]:
        """Parameters trained beside the network's."""
        return []

    def scored(self, model: nn.Module) -> nn.Module:
        """The model val should score instead of ``model``."""
        return model

    def start(self, run: Run) -> None:
        """Called once before the first epoch."""

    def start_epoch(self, run: Run) -> None:
        """Called before an epoch's first batch."""

    def forward(self, model: nn.Module, net_input: torch.Tensor) -> torch.Tensor | None:
        """The logits of ``net_input``, when the handler runs the network itself."""
        return None

    def image_loss(self, batch: Batch, logits: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """The image-level loss, given the labels' ``loss``."""
        return loss

    def extra_loss(self, batch: Batch) -> torch.Tensor | None:
        """A term added to the step's loss, weighted."""
        return None

    def after_step(self, run: Run) -> None:
        """Called after each optimiser step."""

    def end_of_training(self, run: Run) -> None:
        """Called after an epoch's last step, before val is scored."""

    def val_logits(self, model: nn.Module) -> np.ndarray | None:
        """Val logits of ``model``, when the handler scores val itself."""
        return None

    def log_fields(self, run: Run) -> dict[str, float]:
        """Figures for the epoch's record."""
        return {}

    def after_epoch(self, run: Run, record: dict[str, Any]) -> None:
        """Called with the epoch's finished record."""

    def should_stop(self, run: Run) -> bool:
        """Whether training should end after this epoch."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """This handler's state for ``last.pt`` (under :attr:`checkpoint_key`)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave."""


class LossTerm(Handler):
    """A handler with a loss of its own, logged as its mean per training image.

    Subclasses pass each batch's unweighted loss through :meth:`measured`.
    """

    #: The epoch record's name for the loss.
    log_key: ClassVar[str]

    def __init__(self, weight: float) -> None:
        self.weight = weight
        self._total = 0.0

    def start_epoch(self, run: Run) -> None:
        self._total = 0.0

    def measured(self, loss: torch.Tensor, batch: Batch) -> torch.Tensor:
        """``loss``, counted into the epoch's mean."""
        self._total += loss.item() * batch.size
        return loss

    def log_fields(self, run: Run) -> dict[str, float]:
        return {self.log_key: self._total / run.images}


def val_auc(labels: np.ndarray, logits: np.ndarray) -> float:
    """Val ROC-AUC; 0.5 when a tiny smoke subset holds one class only."""
    return roc_auc(labels, logits) if len(set(labels)) > 1 else 0.5


@dataclass(frozen=True)
class Validation:
    """The images each epoch is scored on, and how the score is read.

    Attributes
    ----------
    inputs, labels : np.ndarray
        Val inputs (N, size, size) and labels (N,).
    channels : int
        The network's input channels.
    sources : tuple of str
        Names of the training sources, when there are several; ``source_of`` (N,) gives
        each image's index into them. The epoch is then chosen on the **worse** source's
        val ROC-AUC (the rule in docs/MODEL.md): a model that ranks one source well and the
        other badly is not the better model for an unseen third.
    """

    inputs: np.ndarray
    labels: np.ndarray
    channels: int
    sources: tuple[str, ...] = ()
    source_of: np.ndarray | None = None

    def score(self, logits: np.ndarray) -> tuple[float, dict[str, float]]:
        """The epoch's score (pooled ROC-AUC, or the worse source's) and the figures to log."""
        pooled = val_auc(self.labels, logits)
        if len(self.sources) < 2 or self.source_of is None:
            return pooled, {"val_auc": pooled}
        fields = {}
        for i, name in enumerate(self.sources):
            mine = self.source_of == i
            fields[f"val_auc_{name}"] = val_auc(self.labels[mine], logits[mine])
        worse = min(fields.values())
        return worse, {**fields, "val_auc_pooled": pooled, "val_auc": worse}


@dataclass(frozen=True)
class Schedule:
    """How long a run lasts and how its learning rate falls.

    The rate follows a cosine from ``lr`` to 0 over whichever runs out first: ``epochs`` or
    ``budget_s`` seconds of training.
    """

    lr: float
    epochs: int
    budget_s: float
    batch_size: int

    def rate(self, done: float) -> float:
        """The learning rate once ``done`` (0 to 1, or beyond) of the run is spent."""
        return self.lr * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))


def _steps(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(order), batch_size):
        yield np.sort(order[start : start + batch_size])


def run_epochs(
    run: Run,
    data: Batches,
    schedule: Schedule,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    validation: Validation,
) -> None:
    """Train ``run.model`` on ``data`` until the schedule ends or a handler stops it.

    Each epoch is scored on ``validation`` (:meth:`Validation.score`), and the best epoch is
    recorded in ``run.state``.
    """
    for handler in run.handlers:
        handler.start(run)
    state = run.state  # read after ``start``: a resume replaces it
    run.steps = math.ceil(len(data) / schedule.batch_size)
    while state["epoch"] < schedule.epochs and state["elapsed"] < schedule.budget_s:
        epoch = state["epoch"] + 1
        started = time.monotonic()
        run.model.train()
        order = data.order()
        run.loss_total, run.seen = 0.0, 0
        for handler in run.handlers:
            handler.start_epoch(run)
        for step, indices in enumerate(_steps(order, schedule.batch_size)):
            done = max(
                (epoch - 1 + step / run.steps) / schedule.epochs,
                (state["elapsed"] + time.monotonic() - started) / schedule.budget_s,
            )
            for group in run.optimiser.param_groups:
                group["lr"] = schedule.rate(done)
            _train_step(run, data.batch(indices), loss_fn)
            run.step = step + 1
            for handler in run.handlers:
                handler.after_step(run)
        for handler in run.handlers:
            handler.end_of_training(run)
        scored = run.scored
        logits = next(
            (found for h in run.handlers if (found := h.val_logits(scored)) is not None), None
        )
        if logits is None:
            logits = predict_logits(scored, validation.inputs, validation.channels)
        auc, val_fields = validation.score(logits)
        state["elapsed"] += time.monotonic() - started
        state["epoch"] = epoch
        record: dict[str, Any] = {"epoch": epoch, "train_loss": run.loss_total / len(data)}
        for handler in run.handlers:
            record.update(handler.log_fields(run))
        record |= {**val_fields, "elapsed_s": round(state["elapsed"], 1)}
        state["history"].append(record)
        if auc > state["best_auc"]:
            state["best_auc"], state["best_epoch"] = auc, epoch
        for handler in run.handlers:
            handler.after_epoch(run, record)
        if any(handler.should_stop(run) for handler in run.handlers):
            break


def _train_step(
    run: Run, batch: Batch, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> None:
    logits = next(
        (
            found
            for h in run.handlers
            if (found := h.forward(run.model, batch.net_input)) is not None
        ),
        None,
    )
    if logits is None:
        logits = run.model(batch.net_input)
    loss = loss_fn(logits, batch.labels)
    run.loss_total += loss.item() * batch.size
    for handler in run.handlers:
        loss = handler.image_loss(batch, logits, loss)
    for handler in run.handlers:
        term = handler.extra_loss(batch)
        if term is not None:
            loss = loss + term
    run.optimiser.zero_grad(set_to_none=True)
    loss.backward()
    run.optimiser.step()
    run.seen += batch.size
