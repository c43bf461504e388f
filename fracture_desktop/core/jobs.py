"""Plumbing for background work: cancel tokens, progress callbacks, work done ahead.

Core functions that may run long take an optional :class:`CancelToken` and an optional
progress callback; they check the token between items and raise :class:`Cancelled`.
:func:`ahead` runs a function over items in a helper thread, a bounded number ahead of the
caller, so that decoding overlaps scoring.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

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


def ahead(
    fn: Callable[[T], R], items: Iterable[T], depth: int, name: str, workers: int = 1
) -> Generator[R, None, None]:
    """``fn(item)`` for each item, in order, computed in ``workers`` helper threads up to
    ``depth`` items ahead of the caller.

    At most ``depth`` results wait (plus the one the caller holds), so memory stays
    bounded however many items there are; ``items`` is read lazily, in the caller's
    thread. ``fn`` should not raise: an exception it raises is raised by the iterator when
    its item comes. Closing the iterator (a cancelled caller; ``contextlib.closing``)
    drops the work not started and waits for the items in progress.

    Parameters
    ----------
    fn : callable
        The work per item; it runs in the helper thread, so it should release the GIL for
        its long parts (decoders, numpy, Pillow and pipes do).
    items : iterable
        The inputs, in the order the results are wanted.
    depth : int
        Results computed ahead, at least 1.
    name : str
        The helper threads' name prefix.
    workers : int
        Helper threads; with more than one, ``fn`` runs on several items at once and must
        be safe to (ONNX Runtime's sessions are).
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
