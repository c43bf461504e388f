"""Checkpoints: ``last.pt`` to resume from, ``best.pt`` by val ROC-AUC, ``epoch-NNN.pt``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fracture_desktop.training.loop import Handler, Run


class Checkpoints(Handler):
    """Save the run after every epoch and resume it from ``out/last.pt`` when that exists.

    ``last.pt`` holds the network (``model``), the optimiser, each handler's state under its
    :attr:`~fracture_desktop.training.loop.Handler.checkpoint_key`, the run's ``state`` and
    torch's and numpy's generator states, so a resumed run goes on as if never stopped.
    ``best.pt`` holds the scored weights of the best epoch, ``epoch-NNN.pt`` (with
    ``keep_epochs``) every epoch's, for a choice on val by more than one figure.

    List it after the handlers whose state it saves.
    """

    def __init__(self, out: Path, keep_epochs: bool = False) -> None:
        self.out = out
        self.keep_epochs = keep_epochs

    @property
    def last(self) -> Path:
        return self.out / "last.pt"

    def start(self, run: Run) -> None:
        if not self.last.is_file():
            return
        saved = torch.load(self.last, weights_only=False)
        run.model.load_state_dict(saved["model"])
        for handler in run.handlers:
            if handler.checkpoint_key:
                handler.load_state_dict(saved[handler.checkpoint_key])
        run.optimiser.load_state_dict(saved["optimiser"])
        run.state = saved["state"]
        torch.set_rng_state(saved["torch_rng"])
        np.random.set_state(saved["numpy_rng"])
        print(f"resumed at epoch {run.state['epoch']}", file=sys.stderr)

    def after_epoch(self, run: Run, record: dict[str, Any]) -> None:
        epoch = run.state["epoch"]
        if run.state["best_epoch"] == epoch:
            torch.save(run.scored.state_dict(), self.out / "best.pt")
        if self.keep_epochs:
            torch.save(run.scored.state_dict(), self.out / f"epoch-{epoch:03d}.pt")
        handlers = {h.checkpoint_key: h.state_dict() for h in run.handlers if h.checkpoint_key}
        torch.save(
            {
                "model": run.model.state_dict(),
                "optimiser": run.optimiser.state_dict(),
                **handlers,
                "state": run.state,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": np.random.get_state(),
            },
            self.last,
        )
