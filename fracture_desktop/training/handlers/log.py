"""The run's log: a progress bar per step on stderr, and each epoch's record on stderr and as
one JSON line of ``log.jsonl``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fracture_desktop.training.loop import Handler, Run


class EpochLog(Handler):
    """Append each epoch's record to ``path`` (JSON lines) and show progress on stderr."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def after_step(self, run: Run) -> None:
        filled = int(30 * run.step / max(run.steps, 1))
        bar = "#" * filled + "-" * (30 - filled)
        epoch = run.state["epoch"] + 1
        loss = run.loss_total / run.seen
        print(
            f"\repoch {epoch:3d} [{bar}] {run.step}/{run.steps} loss {loss:.4f}",
            end="",
            file=sys.stderr,
        )

    def after_epoch(self, run: Run, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        print(f"\n{line}", file=sys.stderr)
        with open(self.path, "a") as log:
            log.write(line + "\n")
