"""A minimal callback event: the session's way of telling views that something changed.

Qt-free on purpose (napari's ``EventedModel`` and ndv's model do the same job), so the
reading session and its tests run without a display. Callbacks run synchronously on the
thread that emits; the reading session is changed on the GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Event(Generic[T]):
    """A list of callbacks called, in connection order, with one value each time it fires."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[T], object]] = []

    def connect(self, callback: Callable[[T], object]) -> None:
        """Call ``callback(value)`` on every :meth:`emit` from now on."""
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[[T], object]) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        for callback in tuple(self._callbacks):
            callback(value)
