"""A progress bar for headless commands, drawn on stderr so stdout stays clean for scripts."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO

BAR_WIDTH = 28
#: Seconds between redraws on a terminal: faster is flicker, slower looks stuck.
REDRAW_INTERVAL = 0.1
#: Without a terminal (logs, CI) a line is printed at every this fraction of the work.
LOG_STEP = 0.1


class ProgressBar:
    """A :data:`~fracture_desktop.core.jobs.ProgressCallback` that draws ``label [###..] n/N``.

    On a terminal the line is redrawn in place with the rate and time left; elsewhere a
    plain line is printed at the first item (a sign of life) and every 10 %, so logs stay
    short.

    Parameters
    ----------
    label : str
        What is being counted, e.g. ``"Analysing"``.
    unit : str
        Name of one item for the rate, e.g. ``"images"``.
    stream : TextIO, optional
        Defaults to ``sys.stderr``.
    """

    def __init__(self, label: str, unit: str = "files", stream: TextIO | None = None) -> None:
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._next_log = 0.0
        self._logged = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        finished = total > 0 and done >= total
        if self.interactive:
            if finished or now - self._last_draw >= REDRAW_INTERVAL:
                self._last_draw = now
                self.stream.write("\r" + self.line(done, total, now) + "\033[K")
                self.stream.flush()
                self._drawn = True
        elif total > 0 and done != self._logged and (finished or done / total >= self._next_log):
            self._logged = done
            self._next_log = (int(done / total / LOG_STEP) + 1) * LOG_STEP
            self.stream.write(self.line(done, total, now) + "\n")
            self.stream.flush()

    def line(self, done: int, total: int, now: float) -> str:
        """The text of one update (no control characters)."""
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        if total <= 0:
            return f"{self.label}  {done} {self.unit}"
        filled = round(BAR_WIDTH * done / total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        text = f"{self.label:<10} [{bar}] {done}/{total}  {rate:.1f} {self.unit}/s"
        if 0 < done < total and rate > 0:
            left = int((total - done) / rate)
            text += f"  {left // 60}:{left % 60:02d} left"
        return text

    def close(self) -> None:
        """End the redrawn line so the next output starts on a fresh one."""
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class StageBars:
    """A :data:`~fracture_desktop.core.triage.StageProgress` that draws one bar per stage.

    Parameters
    ----------
    labels : mapping of str to (str, str)
        ``stage -> (label, unit)`` for each stage's :class:`ProgressBar`.
    stream : TextIO, optional
        Defaults to ``sys.stderr``.
    """

    def __init__(self, labels: Mapping[str, tuple[str, str]], stream: TextIO | None = None) -> None:
        self._labels, self._stream = labels, stream
        self._stage = ""
        self._bar: ProgressBar | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage or self._bar is None:
            self.close()
            label, unit = self._labels.get(stage, (stage, "items"))
            self._stage, self._bar = stage, ProgressBar(label, unit, self._stream)
        self._bar(done, total)

    def close(self) -> None:
        """End the current bar's line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def print_error(command: str, message: str, details: str = "") -> None:
    """``fracture-desktop COMMAND: error: MESSAGE`` on stderr, details indented below."""
    print(f"fracture-desktop {command}: error: {message}", file=sys.stderr)
    if details:
        print(f"  {details}", file=sys.stderr)
