"""Early stopping: end a run whose val ROC-AUC has not improved for ``patience`` epochs."""

from __future__ import annotations

import sys

from fracture_desktop.training.loop import Handler, Run


class EarlyStop(Handler):
    """Stop after ``patience`` epochs without a new best val ROC-AUC."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def should_stop(self, run: Run) -> bool:
        if run.state["epoch"] - run.state["best_epoch"] < self.patience:
            return False
        print(f"early stop: no val gain for {self.patience} epochs", file=sys.stderr)
        return True
