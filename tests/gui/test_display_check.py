"""The viewer says why it cannot open a window, instead of Qt aborting the process; and on a
real X server (Xvfb, where installed) it opens one."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fracture_desktop.core.paths import resources_root
from fracture_desktop.gui.display_check import LIBXCB, uses_xcb, xcb_problem

#: A library every Linux process has loaded: stands in for a plugin that loads.
LOADS = "libc.so.6"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 checks")


def _loads(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", True),
        ({"XDG_SESSION_TYPE": "x11"}, "linux", True),
        ({"XDG_SESSION_TYPE": "wayland"}, "linux", False),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb", "XDG_SESSION_TYPE": "wayland"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
        ({}, "win32", False),
        ({}, "darwin", False),
    ],
)
def test_only_the_x11_plugin_is_checked(
    environ: dict[str, str], platform: str, expected: bool
) -> None:
    assert uses_xcb(environ, platform) is expected


@linux_only
def test_a_library_that_does_not_load_is_named_with_what_to_install(tmp_path: Path) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_text("not a shared library")
    problem = xcb_problem((str(plugin),), {"DISPLAY": ":0"})
    assert problem is not None
    assert str(plugin) in problem and "apt-get install" in problem
    assert "libxcb-cursor0" in problem and "scan FOLDER" in problem


@linux_only
def test_without_a_display_the_reader_is_told_so() -> None:
    problem = xcb_problem((LOADS,), {})
    assert problem is not None and "DISPLAY is not set" in problem


@linux_only
@pytest.mark.skipif(not _loads(LIBXCB), reason="libxcb is not installed")
def test_a_display_that_refuses_is_named() -> None:
    # No server listens on display 59: the socket does not exist.
    assert not Path("/tmp/.X11-unix/X59").exists()
    problem = xcb_problem((LOADS,), {"DISPLAY": ":59"})
    assert problem is not None and "':59' does not accept a connection" in problem


def _viewer(env: dict[str, str], seconds: int, wrapper: tuple[str, ...] = ()) -> tuple[int, str]:
    """Run the viewer on the samples in a session of its own, with throw-away settings;
    stopped (exit 124) with everything it started when it outlives ``seconds``."""
    samples = str(resources_root() / "samples")
    command = [*wrapper, sys.executable, "-m", "fracture_desktop", samples]
    with subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            _, stderr = process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
            return 124, stderr
    return process.returncode, stderr


def _environ(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home), XDG_DATA_HOME=str(home), **extra)
    return env


@linux_only
def test_the_viewer_exits_with_the_reason_instead_of_aborting(tmp_path: Path) -> None:
    code, stderr = _viewer(_environ(tmp_path, QT_QPA_PLATFORM="xcb"), seconds=60)
    # Without the check Qt aborts: exit -6 (SIGABRT) and "could not connect to display".
    assert code == 2, stderr
    assert "The viewer cannot open a window" in stderr
    assert "Traceback" not in stderr


@linux_only
@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="Xvfb is not installed")
def test_on_a_real_x_server_the_window_opens(tmp_path: Path) -> None:
    xvfb = ("xvfb-run", "--auto-servernum", "--server-args=-screen 0 1280x800x24")
    env = _environ(tmp_path, QT_QPA_PLATFORM="xcb")
    check = "from fracture_desktop.gui.display_check import display_problem as p; print(p())"
    done = subprocess.run(
        [*xvfb, sys.executable, "-c", check],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "cannot load a system library" in done.stdout:
        pytest.skip("Qt's X11 libraries are not installed here")
    assert done.stdout.strip() == "None", done.stdout + done.stderr
    # The viewer reads the samples on the real platform plugin and is still running when
    # stopped: no abort, no traceback.
    code, stderr = _viewer(env, seconds=25, wrapper=xvfb)
    assert code == 124, stderr
    assert "Traceback" not in stderr
