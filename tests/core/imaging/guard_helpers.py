"""Misbehaving readers for the guard tests; module level so that a spawned worker imports them."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from fracture_desktop.core.errors import NotAnImageError


class NativePanic(BaseException):
    """Stands for pyo3's PanicException: a BaseException that ``except Exception`` misses."""


def echo(path: Path, value: object) -> tuple[str, object]:
    return path.name, value


def pid(path: Path) -> int:
    """Which worker process served the call."""
    return os.getpid()


def abort(path: Path) -> None:
    print("terminate called after throwing an instance of 'gdcm::Exception'", file=sys.stderr)
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGABRT)


def sleep(path: Path, seconds: float) -> None:
    time.sleep(seconds)


def allocate(path: Path, gigabytes: float) -> int:
    return len(bytearray(int(gigabytes * 2**30)))


def panic(path: Path) -> None:
    raise NativePanic("index out of bounds")


def recurse(path: Path) -> int:
    return recurse(path) + 1


def typed(path: Path) -> None:
    raise NotAnImageError(path, "not a DICOM file", "starts with b'hello'")


def abort_on_bad(path: Path) -> str:
    """The name of a good file; a file named "bad" aborts the process, "typed" fails typed."""
    if path.name == "bad":
        abort(path)
    if path.name == "typed":
        typed(path)
    return path.name


def token(path: Path) -> list[bytes]:
    """Different on every call: tells a fresh call from an answer kept from an earlier one."""
    return [os.urandom(8)]
