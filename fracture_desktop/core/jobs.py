"""Plumbing for background work: cancel tokens and progress callbacks.

Core functions that may run long take an optional :class:`CancelToken` and an optional
progress callback; they check the token between items and raise :class:`Cancelled`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

#: ``progress(done, total)``; ``total`` is 0 while unknown (e.g. during a folder walk).
ProgressCallback = Callable[[int, int], None]


class Cancelled(Exception):
    """Raised inside a job when its token was cancelled."""


class CancelToken:
    """A thread-safe flag a caller sets to ask a running job to stop at the next item."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled
