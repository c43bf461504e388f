"""Background work for the viewer: single-thread workers whose results reach the GUI thread.

Each :class:`Worker` is one ``concurrent.futures`` thread, so the jobs of one kind run in
order and an object that is not thread-safe (the inference engine) can live in it. Results
and errors travel back through :class:`Bridge`, a queued Qt signal, and are delivered on the
GUI thread; a worker never touches a widget.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from fracture_desktop.core.errors import FractureDesktopError
from fracture_desktop.core.jobs import Cancelled


class Bridge(QObject):
    """Runs callables on the thread that owns it (the GUI thread).

    ``post`` may be called from any thread; Qt queues the signal because the receiver lives
    on another thread, so the callable runs in the GUI event loop.
    """

    _sig_call = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open = True
        self._sig_call.connect(self._run)

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the GUI thread as soon as the event loop gets to it."""
        self._sig_call.emit(fn)

    def close(self) -> None:
        """Drop callables still queued: their widgets are being torn down."""
        self._open = False

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        if self._open:
            fn()


def describe_error(exc: BaseException) -> tuple[str, str]:
    """A short reason and the details for any exception, typed errors first."""
    if isinstance(exc, FractureDesktopError):
        return exc.reason, exc.details
    details = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc}", details


class Worker:
    """One background thread; jobs run in submission order.

    Parameters
    ----------
    name : str
        Thread name prefix (shown in debuggers and in the no-leaked-threads test).
    bridge : Bridge
        Delivers ``on_done`` / ``on_error`` on the GUI thread.
    on_error : callable
        ``on_error(reason, details)`` for any exception a job raises, except
        :class:`~fracture_desktop.core.jobs.Cancelled`.
    """

    def __init__(self, name: str, bridge: Bridge, on_error: Callable[[str, str], None]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._bridge = bridge
        self._on_error = on_error
        self._closed = False

    def submit(
        self,
        job: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
    ) -> Future[Any] | None:
        """Run ``job()`` in the worker; hand its result to ``on_done`` on the GUI thread."""
        if self._closed:
            return None

        def run() -> Any:
            try:
                result = job()
            except Cancelled:
                return None
            except Exception as exc:  # any failure must reach the user, never kill the thread
                reason, details = describe_error(exc)
                self.post(lambda: self._on_error(reason, details))
                return None
            if on_done is not None:
                self.post(lambda: on_done(result))
            return result

        return self._executor.submit(run)

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the GUI thread (for streaming partial results from a job)."""
        if not self._closed:
            self._bridge.post(fn)

    def shutdown(self) -> None:
        """Drop queued jobs and wait for the running one; callers cancel it first."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._closed = True
