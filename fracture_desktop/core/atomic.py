"""Write a file so that readers see the old file or the complete new one, never half of it.

The data goes to a temporary file in the destination folder (same file system, so the final
rename is atomic), is flushed to disk, then renamed over the destination. A destination that
already exists is replaced only when the caller says so. Reports and the reader-decisions
file are written this way. A writer killed mid-way leaves its temporary file behind; the
next write of the same file removes it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fracture_desktop.core.errors import FractureDesktopError

# After ".<report name>.": the writer's pid, mkstemp's random part, ".tmp".
_TEMPORARY = re.compile(r"(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")
#: Where a writer's liveness cannot be asked (Windows), a temporary file this old is stale.
_STALE_SECONDS = 24 * 3600


class OutputExistsError(FractureDesktopError):
    """The destination exists and replacing it was not asked for."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; choose another name or allow replacing it")
        self.path = path


class OutputWriteError(FractureDesktopError):
    """The file could not be written (missing folder, no permission, disk full)."""

    def __init__(self, path: Path, details: str) -> None:
        super().__init__(f"cannot write {path}", details)
        self.path = path


def check_writable(path: Path | str, overwrite: bool = False) -> Path:
    """Fail early, before long work, when ``path`` cannot be written as a new file.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    OutputWriteError
        The folder does not exist or ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputWriteError(path, "it is a folder")
    if path.exists() and not overwrite:
        raise OutputExistsError(path)
    if not path.parent.is_dir():
        raise OutputWriteError(path, f"the folder {path.parent} does not exist")
    return path


def probe_writable(path: Path | str) -> None:
    """Create and remove a temporary file beside ``path``, as :func:`atomic_write` will.

    The only test of permissions that holds for root, ACLs and read-only mounts alike; run
    before a long analysis so that it does not end in "cannot write". Stale temporary files
    of earlier runs are removed on the way.

    Raises
    ------
    OutputWriteError
        The folder does not accept new files.
    """
    path = Path(path)
    remove_stale_temporaries(path)
    try:
        fd, name = _temporary(path)
    except OSError as exc:
        raise OutputWriteError(path, f"the folder does not accept new files: {exc}") from exc
    os.close(fd)
    os.unlink(name)


def _temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, named ``.<name>.<pid>.<random>.tmp``.

    The pid in the name lets a later run tell the leftovers of a killed writer from the
    file of a writer still at work (see :func:`remove_stale_temporaries`).
    """
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove temporary files that a killed writer of ``path`` left behind; return them.

    Only names this module makes for this very report are considered, and only those whose
    writer process no longer runs (or, where that cannot be asked, that are older than a day).
    """
    removed: list[Path] = []
    prefix = f".{path.name}."
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for candidate in candidates:
        match = _TEMPORARY.fullmatch(candidate.name[len(prefix) :])
        if match is None or not _is_stale(candidate, int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _is_stale(candidate: Path, pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process may be writing it right now
    if os.name == "posix":
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # it exists, under another user
        return False
    try:
        return time.time() - candidate.stat().st_mtime > _STALE_SECONDS
    except OSError:
        return False


class StagedOutputs:
    """The files of one run, written beside their destinations and published together.

    Each :meth:`open` writes a temporary file; :meth:`publish` renames them all into place
    once every one is complete, so that a run that fails part-way (disk full, a writer's
    error, Ctrl-C) leaves none of its new files rather than some. Use :func:`stage_outputs`.
    """

    def __init__(self, overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self._staged: list[tuple[Path, Path]] = []

    @contextlib.contextmanager
    def open(self, path: Path | str) -> Iterator[BinaryIO]:
        """A temporary file for ``path``: complete and synced when the block ends.

        Raises
        ------
        OutputExistsError, OutputWriteError
            As :func:`atomic_write`.
        """
        path = check_writable(path, self.overwrite)
        remove_stale_temporaries(path)
        try:
            fd, tmp_name = _temporary(path)
        except OSError as exc:
            raise OutputWriteError(path, str(exc)) from exc
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputWriteError(path, str(exc)) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._staged.append((tmp, path))

    def publish(self) -> tuple[Path, ...]:
        """Rename every staged file into place; on a failure, none of the new names stays.

        A file that replaced an existing one (``overwrite``) cannot be taken back: renames
        fail only in rare cases (the destination appeared meanwhile, the folder vanished).
        """
        published: list[Path] = []
        try:
            for tmp, path in self._staged:
                try:
                    _publish(tmp, path, self.overwrite)
                except OSError as exc:
                    raise OutputWriteError(path, str(exc)) from exc
                published.append(path)
        except BaseException:
            if not self.overwrite:
                for path in published:
                    path.unlink(missing_ok=True)
            raise
        finally:
            self.discard()
        return tuple(published)

    def discard(self) -> None:
        """Remove the temporary files not published."""
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged.clear()


@contextlib.contextmanager
def stage_outputs(overwrite: bool = False) -> Iterator[StagedOutputs]:
    """Write several files all-or-none: ``with stage_outputs() as out: with out.open(p) as f``.

    They are published when the block ends without an error; otherwise none is.
    """
    outputs = StagedOutputs(overwrite)
    try:
        yield outputs
    except BaseException:
        outputs.discard()
        raise
    outputs.publish()


@contextlib.contextmanager
def atomic_write(path: Path | str, overwrite: bool = False) -> Iterator[BinaryIO]:
    """Open a temporary file for writing that becomes ``path`` when the block succeeds.

    If the block raises (including :class:`~fracture_desktop.core.jobs.Cancelled`), the
    temporary file is removed and ``path`` is untouched. The file is created readable by
    its owner only: reports may name patients.

    Raises
    ------
    OutputExistsError
        ``path`` exists (checked again at the rename, so a file that appeared meanwhile is
        not replaced either) and ``overwrite`` is false.
    OutputWriteError
        The temporary file cannot be created or written.
    """
    with stage_outputs(overwrite) as outputs, outputs.open(path) as f:
        yield f


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    # A hard link fails if the name exists, atomically; the plain exists() check above
    # leaves a window in which another program may have created the file.
    try:
        os.link(tmp, path)
    except FileExistsError as exc:
        raise OutputExistsError(path) from exc
    except OSError:
        # File systems without hard links (FAT, some network shares): best effort.
        if path.exists():
            raise OutputExistsError(path) from None
        os.replace(tmp, path)
