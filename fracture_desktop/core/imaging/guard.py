"""Read headers and decode pixels in guarded worker processes: a file can fail, never the app.

Native decoders are hostile territory (docs/REPORTS.md, "The decoder guard"): gdcm aborts the
process on an uncaught C++ exception, the Rust RLE decoder panics with a ``BaseException``,
and a few kilobytes of codestream can claim gigabytes. So every header read and every decode
runs in a small pool of worker processes, started with the ``spawn`` method (never ``fork``:
the viewer's Qt and torch threads must not be copied half-way through a lock), each with

- a time limit per file: a worker that overruns it is killed and replaced;
- a memory limit (``RLIMIT_AS``, where the platform has it) so that a decoder that
  allocates without bound gets a ``MemoryError`` or dies, instead of the machine swapping;
- no core dumps (``RLIMIT_CORE`` 0): an abort must not leave a file in the working folder.

Whatever happens in a worker comes back as an
:class:`~fracture_desktop.core.errors.ImageLoadError` for that one file: the typed errors of
the readers as they are, any other exception (``BaseException`` included: pyo3's
``PanicException``, ``RecursionError``, ``MemoryError``) worded by :func:`as_load_error`, a
dead worker as :class:`~fracture_desktop.core.errors.DecoderCrashError`, an overrun as
:class:`~fracture_desktop.core.errors.DecodeTimeoutError`. The pool is shared by the scan, the
analysis and the viewer, and is safe to call from several threads.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import multiprocessing
import os
import queue
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing import reduction
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fracture_desktop.core.errors import (
    CorruptImageError,
    DecoderCrashError,
    DecodeTimeoutError,
    FractureDesktopError,
    ImageLoadError,
    ImageTooLargeError,
    NotAnImageError,
)

if TYPE_CHECKING:
    from fracture_desktop.core.imaging.image import LoadedImage

T = TypeVar("T")

#: Worker processes at most: the scan and the analysis use one at a time; the viewer may
#: decode an image while thumbnails are made.
WORKERS = 2
#: Native decoders spawn their own threads otherwise, one per core, in every worker.
_SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Paths per request of :meth:`DecoderGuard.call_each`.
CHUNK = 32
#: Characters of a dead worker's stderr kept in the crash's details.
_LOG_TAIL = 1000
#: A prefetched result nobody asked for within this many seconds is dropped.
PREFETCH_SECONDS = 30.0


@dataclass(frozen=True)
class GuardLimits:
    """What one file may cost a worker.

    Attributes
    ----------
    seconds : float
        Wall time to read one header or decode one frame. A 43 x 43 cm JPEG 2000 radiograph
        decodes in well under 5 s on a slow laptop; past the limit the worker is killed.
    memory_bytes : int
        Address space a file may add to a worker's (``RLIMIT_AS`` is set to what the worker
        has mapped once its readers are imported, plus this). 3 GiB decodes any frame
        :data:`~.dicom_checks.MAX_FRAME_BYTES` lets through as stored values plus float32
        modality values.
    """

    seconds: float = 30.0
    memory_bytes: int = 3 << 30


@dataclass(frozen=True)
class _Prefetch:
    """A call started ahead of its caller, and what the file looked like then."""

    fn: Callable[..., Any]
    path: Path
    args: tuple[Any, ...]
    stamp: tuple[tuple[int, ...] | None, ...]
    started: float = field(default_factory=time.monotonic)
    result: Future[Any] = field(default_factory=Future)

    def matches(self, fn: Callable[..., Any], path: Path, args: tuple[Any, ...]) -> bool:
        return self.fn is fn and self.path == path and self.args == args


def _stamp(path: Path, args: tuple[Any, ...]) -> tuple[tuple[int, ...] | None, ...]:
    """What changes when a file a call reads is replaced or rewritten: ``path``, and the
    paths a list in ``args`` holds (the rest of a :meth:`DecoderGuard.call_each` chunk)."""
    listed = [a for arg in args if isinstance(arg, list) for a in arg if isinstance(a, Path)]
    stamps: list[tuple[int, ...] | None] = []
    for read in (path, *listed):
        try:
            st = os.stat(read)
        except OSError:
            stamps.append(None)
        else:
            stamps.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(stamps)


class _InheritedFile:
    """An open file descriptor handed to a spawned process (as multiprocessing hands pipes):
    the child gets its own descriptor of the same open file."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Callable[..., int], tuple[Any]]:
        # Called while the process is being spawned: DupFd registers the descriptor to
        # be passed to the child.
        return _detach, (reduction.DupFd(self.fd),)


def _detach(duplicate: Any) -> int:
    return int(duplicate.detach())


class _Worker:
    """One decoder process, the pipe to it, and the file that holds its stderr.

    Native decoders print their last words (gdcm's ``what()``, a Rust panic message) on
    stderr: kept in a private temporary file, they go into a crash's details rather than
    onto the user's terminal. The file has no name (unlinked at once, or never named where
    the system allows), so a killed app or scan leaves none behind in the temporary folder.
    """

    def __init__(self, context: SpawnContext, limits: GuardLimits) -> None:
        # Open as long as the worker lives; closed by stop().
        self.log = tempfile.TemporaryFile(prefix="fracture-decoder-", suffix=".log")  # noqa: SIM115
        self.conn, child = context.Pipe()
        self.process: SpawnProcess = context.Process(
            target=serve,
            args=(child, limits.memory_bytes, _InheritedFile(self.log.fileno())),
            name="fracture-decoder",
            daemon=True,
        )
        self.process.start()
        child.close()  # the worker's end lives in the worker only: its death gives EOF here

    def call(self, request: tuple[Callable[..., Any], tuple[Any, ...]], seconds: float) -> Any:
        """Send ``request`` and wait for the reply.

        Raises
        ------
        TimeoutError
            No reply within ``seconds``.
        EOFError, OSError
            The worker died.
        """
        self.conn.send(request)
        if not self.conn.poll(seconds):
            raise TimeoutError
        return self.conn.recv()

    def stop(self) -> tuple[int | None, str]:
        """Kill the worker (whatever it is doing); its exit code and the end of its stderr."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        code = self.process.exitcode
        self.process.close()
        try:
            with self.log as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - _LOG_TAIL))
                tail = f.read().decode("utf-8", "replace").strip()
        except OSError:
            tail = ""
        return code, tail


class DecoderGuard:
    """A pool of guarded worker processes; :meth:`call` runs a reader in one of them.

    Workers start on first use (about 0.3 s each) and are reused; a worker that dies or
    overruns is replaced on the next call.

    Parameters
    ----------
    limits : GuardLimits
        Time and memory per file.
    workers : int
        Processes at most; callers beyond that wait for a free one.
    """

    def __init__(self, limits: GuardLimits | None = None, workers: int = WORKERS) -> None:
        self.limits = limits or GuardLimits()
        self._context = multiprocessing.get_context("spawn")
        # LIFO: sequential callers keep reusing one warm worker, the second starts only when
        # two calls overlap. None marks a slot whose worker is not started (or was lost).
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(workers):
            self._idle.put(None)
        self._lock = threading.Lock()
        self._live: set[_Worker] = set()
        self._busy: set[_Worker] = set()
        self._prefetched: list[_Prefetch] = []
        self._closed = False

    def prestart(self, workers: int = 1) -> None:
        """Start up to ``workers`` workers now, where none is idle, so that the first files
        do not wait for them to start and import the readers (seconds on a busy machine):
        for the viewer and ``scan``, whose start-up (Qt, the model) overlaps theirs."""
        taken: list[_Worker | None] = []
        try:
            for _ in range(workers):
                try:
                    taken.append(self._idle.get_nowait())
                except queue.Empty:  # the others are busy: started already
                    break
            for i, worker in enumerate(taken):
                if worker is None:
                    taken[i] = self._start()
        finally:
            for worker in reversed(taken):
                self._idle.put(worker)

    def prefetch(self, fn: Callable[..., Any], path: Path, *args: Any) -> None:
        """Start ``fn(path, *args)`` in a worker now, for a :meth:`call` that will ask for it.

        The viewer's cold start: the first image of a folder is decoded while the process is
        still importing Qt. For :data:`PREFETCH_SECONDS`, a :meth:`call` with the same ``fn``
        and arguments gets a copy of the result (waiting for it if need be) instead of
        reading the file again, unless the file has changed since: the image view and the
        thumbnails both ask for the first image at once.
        """
        ahead = self._keep(fn, path, args)
        threading.Thread(
            target=self._answer, args=(ahead,), name="fracture-prefetch", daemon=True
        ).start()

    def call(self, fn: Callable[..., T], path: Path, *args: Any) -> T:
        """``fn(path, *args)`` in a worker; its result, or an ImageLoadError about ``path``.

        ``fn`` must be a module-level function (it is sent by name) whose result pickles.
        A matching :meth:`prefetch` answers instead, when the file is as it was then.

        Raises
        ------
        ImageLoadError
            ``fn``'s own typed error, or a subclass saying why the file failed in the worker:
            :class:`DecoderCrashError`, :class:`DecodeTimeoutError`, ...
        """
        ahead = self._prefetched_call(fn, path, args)
        if ahead is None:
            return self._run(fn, path, *args)
        # Each caller gets its own copy, as from a decode of its own: none sees another's
        # changes to the arrays.
        result: T = copy.deepcopy(ahead.result.result())
        return result

    def _keep(self, fn: Callable[..., Any], path: Path, args: tuple[Any, ...]) -> _Prefetch:
        """A new prefetch of ``fn(path, *args)``, registered for :meth:`call` to find; the
        files are stamped before they are read, so a change during the read counts."""
        ahead = _Prefetch(fn, path, args, _stamp(path, args))
        with self._lock:
            self._drop_stale_prefetches()
            self._prefetched.append(ahead)
        return ahead

    def _answer(self, ahead: _Prefetch) -> None:
        """Run ``ahead``'s call in a worker and hand its result (or error) to its callers."""
        try:
            ahead.result.set_result(self._run(ahead.fn, ahead.path, *ahead.args))
        except BaseException as exc:  # handed to the callers that take it
            ahead.result.set_exception(exc)

    def _prefetched_call(
        self, fn: Callable[..., Any], path: Path, args: tuple[Any, ...]
    ) -> _Prefetch | None:
        if not self._prefetched:  # nearly always: no lock, no clock on every file's call
            return None
        with self._lock:
            self._drop_stale_prefetches()
            found = next((p for p in self._prefetched if p.matches(fn, path, args)), None)
        return found if found is not None and found.stamp == _stamp(path, args) else None

    def _drop_stale_prefetches(self) -> None:
        """Forget prefetches older than :data:`PREFETCH_SECONDS` (call with the lock held)."""
        now = time.monotonic()
        self._prefetched = [p for p in self._prefetched if now - p.started < PREFETCH_SECONDS]

    def _run(self, fn: Callable[..., T], path: Path, *args: Any) -> T:
        worker = self._idle.get()
        try:
            if worker is None:
                worker = self._start()
            with self._lock:
                self._busy.add(worker)
            try:
                status, payload = worker.call((fn, (path, *args)), self.limits.seconds)
            except TimeoutError:
                self._retire(worker)
                worker = None
                raise DecodeTimeoutError(
                    path,
                    f"decoding took longer than {self.limits.seconds:g} s",
                    "the decoder was stopped; the file may be damaged or crafted",
                ) from None
            except (EOFError, OSError) as exc:
                code, tail = self._retire(worker)
                worker = None
                details = "\n".join(filter(None, (_exit_text(code), tail)))
                raise DecoderCrashError(path, "decoder crashed", details) from exc
        finally:
            with self._lock:
                self._busy.difference_update(() if worker is None else (worker,))
            self._idle.put(worker)
        if status == "ok":
            return payload
        raise payload

    def call_each(
        self, fn: Callable[..., T], paths: Sequence[Path], *args: Any, keep: bool = False
    ) -> Iterator[tuple[Path, T | ImageLoadError]]:
        """``fn(path, *args)`` for every path, in order: ``(path, result or error)``.

        Paths travel to a worker :data:`CHUNK` at a time, so that a folder of small headers
        pays one round trip per chunk rather than per file (a third of a scan's time
        otherwise). A chunk in which the worker dies or overruns the time limit (which then
        holds for the whole chunk) is read again one file at a time, so that only the
        guilty file gets the crash or the overrun. With ``keep``, each chunk's answers stay
        for the same call soon after, as a :meth:`prefetch`'s do (while none of the chunk's
        files has changed): for a look-ahead that the real scan repeats.
        """
        for start in range(0, len(paths), CHUNK):
            chunk = list(paths[start : start + CHUNK])
            if keep:  # answered here, and kept for the same call soon after
                self._answer(self._keep(_each, chunk[0], (chunk[1:], fn, args)))
            try:
                outcomes = self.call(_each, chunk[0], chunk[1:], fn, args)
            except (DecoderCrashError, DecodeTimeoutError):
                for path in chunk:
                    try:
                        yield path, self.call(fn, path, *args)
                    except ImageLoadError as exc:
                        yield path, exc
                continue
            yield from zip(chunk, outcomes, strict=True)

    def _start(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the decoder guard is closed")
            worker = _Worker(self._context, self.limits)
            self._live.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> tuple[int | None, str]:
        with self._lock:
            self._live.discard(worker)
            self._busy.discard(worker)
        return worker.stop()

    def interrupt(self) -> None:
        """Kill the workers that are reading a file now; their callers get DecoderCrashError.

        For a viewer that is closing: its threads must not wait for a slow decode to end.
        Idle workers stay, and the guard remains usable.
        """
        with self._lock:
            busy = list(self._busy)
        for worker in busy:
            with contextlib.suppress(ValueError):  # retired by its caller meanwhile
                worker.process.kill()

    def close(self) -> None:
        """Stop every worker; calls in progress fail as crashed. Used at exit."""
        with self._lock:
            self._closed = True
            workers, self._live = list(self._live), set()
            self._prefetched.clear()
        for worker in workers:
            worker.stop()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the decoder process was ended by {name} while reading this file"
    return f"the decoder process exited with code {code} while reading this file"


def _each(
    first: Path, rest: list[Path], fn: Callable[..., T], args: tuple[Any, ...]
) -> list[T | ImageLoadError]:
    """In a worker: ``fn(path, *args)`` for each path, every failure an ImageLoadError."""
    outcomes: list[T | ImageLoadError] = []
    for path in (first, *rest):
        try:
            outcomes.append(fn(path, *args))
        except BaseException as exc:
            outcomes.append(as_load_error(path, exc))
    return outcomes


def as_load_error(path: Path, exc: BaseException, memory_bytes: int = 0) -> ImageLoadError:
    """Any exception raised while reading ``path``, as a typed per-file error.

    Typed errors pass unchanged; the rest are worded for a reader, with the technical text
    in ``details``.
    """
    if isinstance(exc, ImageLoadError):
        return exc
    details = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"[:2000]
    if isinstance(exc, FractureDesktopError):
        return CorruptImageError(path, exc.reason, exc.details)
    if isinstance(exc, MemoryError):
        limit = f" ({memory_bytes / 2**30:g} GiB)" if memory_bytes else ""
        return ImageTooLargeError(
            path, f"image needs more memory than decoding may use{limit}", details
        )
    if isinstance(exc, RecursionError):
        return CorruptImageError(path, "data is nested too deeply", details)
    if isinstance(exc, OSError):
        if exc.strerror is None:  # e.g. a refused special file: its message says what it is
            return NotAnImageError(path, str(exc), details)
        return CorruptImageError(path, f"file cannot be read: {exc.strerror}", details)
    return CorruptImageError(path, f"file is damaged ({type(exc).__name__})", details)


def _mapped_bytes() -> int:
    """The address space this process has mapped (Linux's ``/proc/self/statm``); 0 where
    the system does not say."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _limit_resources(memory_bytes: int) -> None:
    """No core dumps; ``memory_bytes`` of address space on top of what is mapped now.

    On top, not in all: what a worker maps before its first file is not a file's doing, and
    it varies. A spawned worker imports its parent's main module; one that imports Qt and
    torch (a test's script) had mapped 3.4 GB, more than the whole 3 GiB, so that every
    file failed as too large, or not, by how much of its heap happened to be free.
    """
    try:
        import resource
    except ImportError:  # Windows: no resource limits; the time limit still applies
        return
    memory_bytes += _mapped_bytes()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            memory_bytes = min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    except (ValueError, OSError):  # macOS refuses some RLIMIT_AS values; time limit remains
        pass


def serve(conn: Connection, memory_bytes: int, log: int) -> None:
    """A worker's loop: run each request, send back ``("ok", result)`` or ``("error", exc)``.

    Runs until the pipe closes (the app ended) or ``None`` arrives. ``log`` (a descriptor)
    receives the worker's stderr, emptied before each request so that it holds the last
    file's words.
    """
    for name in _SINGLE_THREAD_ENV:
        os.environ.setdefault(name, "1")
    os.environ["RUST_BACKTRACE"] = "0"  # a panic's message is enough; it is caught here
    os.dup2(log, 2)
    os.close(log)
    # Ctrl-C in a terminal reaches the whole process group; the app decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Every request reads with these (pydicom, its decoders, Pillow): imported before the
    # first one, a worker started ahead (DecoderGuard.prestart) is ready when a file comes.
    # And before the memory limit, which bounds what a file makes a decoder take on top of
    # what the worker has mapped by then (the readers, and whatever its parent's main
    # module imports: a spawned worker imports that again when it starts).
    import fracture_desktop.core.imaging.headers
    import fracture_desktop.core.imaging.loader  # noqa: F401

    _limit_resources(memory_bytes)

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        fn, args = request
        os.ftruncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)
        try:
            reply: tuple[str, object] = ("ok", fn(*args))
        except BaseException as exc:
            reply = ("error", as_load_error(args[0], exc, memory_bytes))
        try:
            conn.send(reply)
        except (EOFError, BrokenPipeError):
            return
        except BaseException as exc:
            conn.send(("error", as_load_error(args[0], exc, memory_bytes)))


_default: DecoderGuard | None = None
_default_lock = threading.Lock()


def default_guard() -> DecoderGuard:
    """The process-wide guard, created on first use and closed at exit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = DecoderGuard()
            atexit.register(_default.close)
        return _default


def guarded_image(path: Path | str, frame: int = 0) -> LoadedImage:
    """:func:`~fracture_desktop.core.imaging.loader.load_image` in a guarded worker.

    Raises
    ------
    ImageLoadError
        Every failure, with a reason (:class:`FrameOutOfRangeError` for a bad ``frame``).
    """
    return default_guard().call(_load_image, Path(path), frame)


def prefetch_image(path: Path | str, frame: int = 0) -> None:
    """Start decoding ``path`` for a :func:`guarded_image` call that will come soon."""
    default_guard().prefetch(_load_image, Path(path), frame)


def _load_image(path: Path, frame: int) -> LoadedImage:
    """``load_image``, imported in the worker that runs it: the caller's process need not
    load pydicom and the decoders (the viewer reaches its first image sooner)."""
    from fracture_desktop.core.imaging.loader import load_image

    return load_image(path, frame)
