"""``scan`` against a hostile folder: odd names, special entries, permissions, stale files,
malicious weights. Each case once broke the promise that every file is accounted for."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import socket
from pathlib import Path

import pytest
from hostile_helpers import run_scan, without_dac_override

CONTROL = Path("R01_recursion_nested_sq/control_ok.dcm")
RAW_NAME = b"patient_\xff\xfe_\xe9.dcm"


def test_a_file_name_that_is_not_utf8_is_written_escaped(
    fuzz_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    odd = Path(os.fsdecode(os.fsencode(folder) + b"/" + RAW_NAME))
    shutil.copy(fuzz_dir / CONTROL, odd)
    run = run_scan(folder, model_dir, tmp_path, "--pdf", str(tmp_path / "r.pdf"))
    assert run.code == 0, run.stderr
    (name,) = run.rows
    assert name == r"patient_\xff\xfe_\xe9.dcm"  # the raw bytes, shown as escapes
    assert run.rows[name]["probability"]
    assert (tmp_path / "r.pdf").stat().st_size > 0


def test_special_entries_and_unreadable_ones_are_listed(
    fuzz_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    prefix = without_dac_override()
    folder = tmp_path / "study"
    (folder / "locked").mkdir(parents=True)
    shutil.copy(fuzz_dir / CONTROL, folder / "good.dcm")
    shutil.copy(fuzz_dir / CONTROL, folder / "secret.dcm")
    shutil.copy(fuzz_dir / CONTROL, folder / "locked" / "inside.dcm")
    os.mkfifo(folder / "pipe")
    (folder / "dangling").symlink_to(folder / "gone")
    (folder / "loop").symlink_to(folder / "loop")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock"))
    (folder / "secret.dcm").chmod(0)
    (folder / "locked").chmod(0)
    try:
        run = run_scan(folder, model_dir, tmp_path, prefix=prefix)
    finally:
        server.close()
        (folder / "locked").chmod(0o755)
    assert run.code == 0, run.stderr
    errors = {name: row["error"] for name, row in run.rows.items()}
    assert errors == {
        "good.dcm": "",
        "secret.dcm": "file cannot be read: Permission denied",
        "locked": "folder cannot be read: Permission denied",
        "pipe": "named pipe (FIFO), not a file",
        "dangling": "broken link: its target does not exist",
        "loop": "link loops back on itself",
        "sock": "socket, not a file",
    }


def test_an_unwritable_report_folder_is_found_before_the_analysis(
    fuzz_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    prefix = without_dac_override()
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(fuzz_dir / CONTROL, folder / "good.dcm")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        run = run_scan(folder, model_dir, out, prefix=prefix)
    finally:
        out.chmod(0o755)
    assert run.code == 5
    assert "does not accept new files" in run.stderr
    assert "Analysing" not in run.stderr and "Traceback" not in run.stderr


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_stale_temporary_reports_of_a_killed_run_are_removed(
    fuzz_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(fuzz_dir / CONTROL, folder / "good.dcm")
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".r.csv.{_dead_pid()}.k3j9x_2a.tmp"
    alive = out / f".r.csv.{os.getpid()}.abcdefgh.tmp"  # a writer still at work
    other = out / ".notes.txt.123.abcdefgh.tmp"  # not ours to judge
    for path in (stale, alive, other):
        path.write_bytes(b"half a report")
    run = run_scan(folder, model_dir, out)
    assert run.code == 0, run.stderr
    assert not stale.exists()
    assert alive.exists() and other.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([alive.name, other.name, "r.csv"])


class _Payload:
    """Pickles as a call that would leave a marker file if it ever ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_malicious_weights_are_refused_with_exit_3(
    fuzz_dir: Path, model_dir: Path, tmp_path: Path, how: str
) -> None:
    import torch

    model = shutil.copytree(model_dir, tmp_path / "model")
    card_path = model / "model_card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    weights = model / card["weights"]["file"]
    marker = tmp_path / "payload-ran"
    payload = {"stem.0.weight": _Payload(marker)}
    if how == "pickle":
        weights.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, weights)
    card["weights"]["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    card_path.write_text(json.dumps(card), encoding="utf-8")
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(fuzz_dir / CONTROL, folder / "good.dcm")
    run = run_scan(folder, model, tmp_path)
    assert run.code == 3
    assert "refusing to load them" in run.stderr
    assert "Traceback" not in run.stderr and "weights_only=False" not in run.stderr
    assert not marker.exists()
