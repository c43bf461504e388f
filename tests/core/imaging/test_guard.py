"""The decoder guard: worker processes that crash, hang, panic or overeat become per-file errors."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import guard_helpers as helpers
import pytest

from fracture_desktop.core.errors import (
    CorruptImageError,
    DecoderCrashError,
    DecodeTimeoutError,
    ImageTooLargeError,
    NotAnImageError,
)
from fracture_desktop.core.imaging import guard as guard_module
from fracture_desktop.core.imaging.guard import DecoderGuard, GuardLimits

FILE = Path("/nowhere/x.dcm")


@pytest.fixture(scope="module")
def guard() -> DecoderGuard:
    made = DecoderGuard(GuardLimits(seconds=5.0, memory_bytes=1 << 30), workers=1)
    yield made
    made.close()


def test_results_come_back(guard: DecoderGuard) -> None:
    assert guard.call(helpers.echo, FILE, [1, 2]) == ("x.dcm", [1, 2])


def test_a_crash_is_a_per_file_error_and_the_next_file_works(guard: DecoderGuard) -> None:
    with pytest.raises(DecoderCrashError, match="decoder crashed") as caught:
        guard.call(helpers.abort, FILE)
    assert caught.value.path == FILE
    assert "SIGABRT" in caught.value.details
    assert "gdcm::Exception" in caught.value.details  # the worker's last words, not the terminal
    assert guard.call(helpers.echo, FILE, 3) == ("x.dcm", 3)


def test_prestarted_workers_serve_the_first_files_and_no_more_start() -> None:
    warm = DecoderGuard(workers=2)
    try:
        warm.prestart(2)
        started = {worker.process.pid for worker in warm._live}
        assert len(started) == 2
        assert warm.call(helpers.pid, FILE) in started
        warm.prestart(2)  # both idle already
        assert {worker.process.pid for worker in warm._live} == started
    finally:
        warm.close()


def test_an_overrun_is_stopped(guard: DecoderGuard) -> None:
    quick = DecoderGuard(workers=1)
    try:
        # Workers start outside the short limit: a loaded machine may take over 0.5 s to
        # start one, and that is not what this test measures.
        quick.call(helpers.echo, FILE, 0)
        quick.limits = GuardLimits(seconds=0.5)
        with pytest.raises(DecodeTimeoutError, match=r"longer than 0\.5 s"):
            quick.call(helpers.sleep, FILE, 60)
        quick.limits = GuardLimits()
        assert quick.call(helpers.echo, FILE, 4) == ("x.dcm", 4)
    finally:
        quick.close()


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux only")
def test_memory_is_bounded(guard: DecoderGuard) -> None:
    with pytest.raises(ImageTooLargeError, match="more memory than decoding may use"):
        guard.call(helpers.allocate, FILE, 4)
    assert guard.call(helpers.allocate, FILE, 0.1) == int(0.1 * 2**30)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux only")
def test_the_memory_budget_is_on_top_of_what_a_worker_maps_to_start() -> None:
    # A worker maps hundreds of MiB before its first file (Python, numpy, pydicom, the
    # codecs; more when its parent's main module imports Qt or torch). A budget smaller
    # than that still lets a file take that much more, and no more.
    small = DecoderGuard(GuardLimits(seconds=30.0, memory_bytes=64 << 20), workers=1)
    try:
        assert small.call(helpers.allocate, FILE, 0.03) == int(0.03 * 2**30)
        with pytest.raises(ImageTooLargeError, match="more memory than decoding may use"):
            small.call(helpers.allocate, FILE, 0.1)
    finally:
        small.close()


def test_base_exceptions_and_recursion_are_worded(guard: DecoderGuard) -> None:
    with pytest.raises(CorruptImageError, match=r"file is damaged \(NativePanic\)"):
        guard.call(helpers.panic, FILE)
    with pytest.raises(CorruptImageError, match="nested too deeply"):
        guard.call(helpers.recurse, FILE)


def test_typed_errors_pass_unchanged(guard: DecoderGuard) -> None:
    with pytest.raises(NotAnImageError) as caught:
        guard.call(helpers.typed, FILE)
    error = caught.value
    assert (error.path, error.reason, error.details) == (
        FILE,
        "not a DICOM file",
        "starts with b'hello'",
    )


def test_interrupt_frees_a_caller_waiting_on_a_slow_file(guard: DecoderGuard) -> None:
    done: list[BaseException] = []

    def wait_for_slow_file() -> None:
        try:
            guard.call(helpers.sleep, FILE, 60)
        except DecoderCrashError as exc:
            done.append(exc)

    caller = threading.Thread(target=wait_for_slow_file)
    caller.start()
    deadline = time.monotonic() + 10
    while not guard._busy and time.monotonic() < deadline:  # the call has reached a worker
        time.sleep(0.01)
    guard.interrupt()
    caller.join(10)
    assert not caller.is_alive() and len(done) == 1
    assert guard.call(helpers.echo, FILE, 5) == ("x.dcm", 5)


def test_a_crash_in_a_chunk_falls_on_the_guilty_file_only(guard: DecoderGuard) -> None:
    names = [f"f{i}" for i in range(40)]
    names[5], names[7], names[35] = "bad", "typed", "bad"
    outcomes = list(guard.call_each(helpers.abort_on_bad, [Path("/d") / n for n in names]))
    assert [p.name for p, _ in outcomes] == names
    for (path, outcome), name in zip(outcomes, names, strict=True):
        if name == "bad":
            assert isinstance(outcome, DecoderCrashError) and outcome.path == path
        elif name == "typed":
            assert isinstance(outcome, NotAnImageError)
        else:
            assert outcome == name


def test_a_killed_app_leaves_no_decoder_log_in_the_temporary_folder(tmp_path: Path) -> None:
    """One ``fracture-decoder-*.log`` per killed scan (two per killed viewer) piled up."""
    import subprocess
    import textwrap

    temp = tmp_path / "tmp"
    temp.mkdir()
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        sys.path.insert(0, sys.argv[1])
        from guard_helpers import abort, echo
        from fracture_desktop.core.imaging.guard import DecoderCrashError, DecoderGuard
        guard = DecoderGuard(workers=2)
        assert guard.call(echo, Path("a"), 1) == ("a", 1)
        try:
            guard.call(abort, Path("b"))  # its last words still reach the details
        except DecoderCrashError as exc:
            assert "gdcm::Exception" in exc.details, exc.details
        assert guard.call(echo, Path("c"), 2) == ("c", 2)
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind runs
        """
    )
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(repo)}
    run = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert [p.name for p in temp.iterdir() if p.name.startswith("fracture-decoder-")] == []


def test_a_prefetched_call_answers_each_later_caller_with_its_own_copy(
    guard: DecoderGuard, tmp_path: Path
) -> None:
    image = tmp_path / "first.dcm"
    image.write_bytes(b"pixels")
    guard.prefetch(helpers.token, image)
    first = guard.call(helpers.token, image)
    second = guard.call(helpers.token, image)
    assert first == second  # one call in the worker served both
    assert first is not second  # each caller may change its own
    assert guard.call(helpers.token, tmp_path / "other.dcm") != first


def test_a_prefetch_is_not_used_once_its_file_changed(guard: DecoderGuard, tmp_path: Path) -> None:
    image = tmp_path / "first.dcm"
    image.write_bytes(b"pixels")
    guard.prefetch(helpers.token, image)
    kept = guard.call(helpers.token, image)
    image.write_bytes(b"other pixels")
    assert guard.call(helpers.token, image) != kept


def test_a_prefetch_expires(
    guard: DecoderGuard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "first.dcm"
    image.write_bytes(b"pixels")
    guard.prefetch(helpers.token, image)
    kept = guard.call(helpers.token, image)
    monkeypatch.setattr(guard_module, "PREFETCH_SECONDS", 0.0)
    assert guard.call(helpers.token, image) != kept
    assert guard._prefetched == []  # nothing held after it expired


def test_a_prefetched_failure_reaches_the_caller_typed(guard: DecoderGuard) -> None:
    guard.prefetch(helpers.abort, FILE)
    with pytest.raises(DecoderCrashError, match="decoder crashed"):
        guard.call(helpers.abort, FILE)
    assert guard.call(helpers.echo, FILE, 5) == ("x.dcm", 5)


def test_a_kept_chunk_answers_the_same_scan_until_one_of_its_files_changes(
    guard: DecoderGuard, tmp_path: Path
) -> None:
    paths = [tmp_path / name for name in ("a.dcm", "b.dcm", "c.dcm")]
    for path in paths:
        path.write_bytes(b"header")
    ahead = list(guard.call_each(helpers.token, paths, keep=True))
    assert list(guard.call_each(helpers.token, paths)) == ahead
    paths[2].write_bytes(b"another header")  # not the chunk's first file
    again = dict(guard.call_each(helpers.token, paths))
    assert again[paths[2]] != dict(ahead)[paths[2]]
