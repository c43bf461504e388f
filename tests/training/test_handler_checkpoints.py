"""The checkpoint handler: what each epoch writes, and a resume that goes on as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from toy_training import ToyNet, toy_run

from fracture_desktop.training.handlers.checkpoints import Checkpoints
from fracture_desktop.training.loop import Handler, Run


class Counter(Handler):
    """A handler with state of its own, and a scored copy of the network."""

    checkpoint_key = "counter"

    def __init__(self) -> None:
        self.count = 0
        self.copy = ToyNet()

    def scored(self, model: torch.nn.Module) -> torch.nn.Module:
        return self.copy

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = state["count"]


def _finish_epoch(run: Run, epoch: int, best: int) -> None:
    run.state.update(epoch=epoch, best_epoch=best, best_auc=0.5)
    for handler in run.handlers:
        handler.after_epoch(run, {})


def test_best_epochs_and_last_are_written(tmp_path: Path) -> None:
    torch.manual_seed(0)
    counter = Counter()
    run = toy_run(ToyNet(), [counter, Checkpoints(tmp_path)])
    _finish_epoch(run, 1, best=1)
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert torch.equal(best["classifier.weight"], counter.copy.classifier.weight)
    assert not (tmp_path / "epoch-001.pt").exists()
    # An epoch that is not the best leaves best.pt alone.
    with torch.no_grad():
        counter.copy.classifier.weight.add_(1.0)
    _finish_epoch(run, 2, best=1)
    assert torch.equal(
        torch.load(tmp_path / "best.pt", weights_only=True)["classifier.weight"],
        best["classifier.weight"],
    )
    last = torch.load(tmp_path / "last.pt", weights_only=False)
    assert set(last) == {"model", "optimiser", "counter", "state", "torch_rng", "numpy_rng"}
    assert last["state"]["epoch"] == 2
    kept = toy_run(ToyNet(), [counter, Checkpoints(tmp_path / "kept", keep_epochs=True)])
    (tmp_path / "kept").mkdir()
    _finish_epoch(kept, 7, best=3)
    assert (tmp_path / "kept" / "epoch-007.pt").is_file()
    assert not (tmp_path / "kept" / "best.pt").exists()


def test_a_resumed_run_has_the_weights_state_and_draws_it_was_saved_with(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, counter = ToyNet(), Counter()
    run = toy_run(model, [counter, Checkpoints(tmp_path)])
    model(torch.rand(2, 1, 16, 16)).sum().backward()
    run.optimiser.step()
    counter.count = 5
    _finish_epoch(run, 3, best=2)
    after_save = torch.rand(3), np.random.rand(3)

    torch.manual_seed(99)
    np.random.seed(99)
    fresh_model, fresh_counter = ToyNet(), Counter()
    fresh = toy_run(fresh_model, [fresh_counter, Checkpoints(tmp_path)])
    for handler in fresh.handlers:
        handler.start(fresh)
    assert fresh_counter.count == 5
    assert (fresh.state["epoch"], fresh.state["best_epoch"]) == (3, 2)
    for a, b in zip(model.state_dict().values(), fresh_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert fresh.optimiser.state_dict() == run.optimiser.state_dict()
    assert torch.equal(torch.rand(3), after_save[0])
    np.testing.assert_array_equal(np.random.rand(3), after_save[1])


def test_a_new_run_starts_fresh(tmp_path: Path) -> None:
    run = toy_run(ToyNet(), [Checkpoints(tmp_path)])
    run.handlers[0].start(run)
    assert run.state["epoch"] == 0 and run.state["history"] == []
