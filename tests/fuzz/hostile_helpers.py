"""Helpers for the hostile-input tests: the real ``scan`` command in a child process."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Runs a command as root without the capabilities that bypass file permissions, so that
#: permission tests mean the same for root (CI containers) as for a user.
NO_DAC = ("setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search")


@dataclass(frozen=True)
class ScanRun:
    code: int
    stdout: str
    stderr: str
    rows: dict[str, dict[str, str]]  # by file name (as written in the CSV)


def run_scan(
    folder: Path, model: Path, out: Path, *extra: str, prefix: tuple[str, ...] = ()
) -> ScanRun:
    """``python -m fracture_desktop scan`` on ``folder``, CSV to ``out`` / r.csv."""
    csv_path = out / "r.csv"
    argv = [*prefix, sys.executable, "-m", "fracture_desktop", "scan", os.fsencode(folder)]
    argv += ["--model", str(model), "--device", "cpu", "--threads", "1", "--overwrite"]
    argv += ["--csv", str(csv_path), "--decisions", str(out / "decisions.json"), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, cwd=out)
    rows = {}
    if csv_path.is_file():
        with open(csv_path, encoding="utf-8-sig", newline="") as f:
            rows = {Path(r["file_path"]).name: r for r in csv.DictReader(f)}
    return ScanRun(done.returncode, done.stdout, done.stderr, rows)


def without_dac_override() -> tuple[str, ...]:
    """The command prefix that makes permissions apply, or skip when none can."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return NO_DAC
