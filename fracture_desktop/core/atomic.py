"""Write a file so that readers see the old file or the complete new one, never half of it.

The data goes to a temporary file in the destination folder (same file system, so the final
rename is atomic), is flushed to disk, then renamed over the destination. A destination that
already exists is replaced only when the caller says so. Reports and the reader-decisions
file are written this way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fracture_desktop.core.errors import FractureDesktopError


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
    path = check_writable(path, overwrite)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputWriteError(path, str(exc)) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _publish(tmp, path, overwrite)
    except OSError as exc:
        raise OutputWriteError(path, str(exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)


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
