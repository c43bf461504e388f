"""Small helpers about files that several parts of the core share."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

# Opening a FIFO for reading blocks until a writer appears; O_NONBLOCK makes it return at once
# (and changes nothing for regular files). Windows has no FIFOs and no such flag.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class NotARegularFileError(OSError):
    """The path names a FIFO, socket, device or folder: nothing to read as an image."""


def special_file_kind(mode: int) -> str:
    """What a non-regular file is, in a few words, from its ``st_mode``."""
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` for binary reading, refusing anything but a regular file.

    The type is checked on the opened descriptor (``fstat``), so a file swapped for a FIFO
    between a check and the open cannot block the reader.

    Raises
    ------
    NotARegularFileError
        A FIFO, socket, device or folder (the message names which).
    OSError
        The file cannot be opened (missing, permission denied, dangling link).
    """
    f = open(path, "rb", opener=_open_nonblocking)  # noqa: SIM115 - returned to the caller
    try:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFileError(f"{special_file_kind(mode)}, not a file")
    except BaseException:
        f.close()
        raise
    return f


def _open_nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | _NONBLOCK)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks so large files stay cheap."""
    digest = hashlib.sha256()
    with open_regular(path) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def printable(text: str) -> str:
    """``text`` as text that any UTF-8 writer accepts.

    File names are bytes on POSIX; Python keeps bytes that are not UTF-8 as lone surrogates
    (PEP 383), which no encoder writes. They become ``\\xff`` escapes of the raw bytes.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "backslashreplace")
        return raw.decode("utf-8", "backslashreplace")
    return text


def _only_escapes(text: str) -> bool:
    """True when every surrogate in ``text`` is a PEP 383 escape of one raw byte."""
    return all(0xDC80 <= ord(c) <= 0xDCFF for c in text if 0xD800 <= ord(c) <= 0xDFFF)
