"""Atomic writes: all or nothing, never over an existing file unless asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from fracture_desktop.core.atomic import (
    OutputExistsError,
    OutputWriteError,
    atomic_write,
    check_writable,
)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    with pytest.raises(RuntimeError), atomic_write(out) as f:
        f.write(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_content(tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(out, overwrite=True) as f:
        f.write(b"new")
        raise RuntimeError("boom")
    assert out.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [out]


def test_file_appearing_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    with pytest.raises(OutputExistsError), atomic_write(out) as f:
        out.write_bytes(b"someone else's")
        f.write(b"mine")
    assert out.read_bytes() == b"someone else's"
    assert list(tmp_path.iterdir()) == [out]


def test_report_is_private_to_its_owner(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with atomic_write(out) as f:
        f.write(b"x")
    assert out.stat().st_mode & 0o077 == 0


def test_check_writable_refuses_folders_and_missing_parents(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError):
        check_writable(tmp_path)
    with pytest.raises(OutputWriteError):
        check_writable(tmp_path / "missing" / "r.csv")
    assert check_writable(tmp_path / "r.csv") == tmp_path / "r.csv"
