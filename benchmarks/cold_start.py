"""The viewer's cold start: from launching a fresh process to the first image on screen.

``gui_responsiveness`` times the window from its construction, in a process that has
already imported Python, Qt and the app; a reader waits for those too. This benchmark
launches a new interpreter per run that starts the viewer as ``fracture-desktop FOLDER``
does (:func:`fracture_desktop.gui.app.run_viewer`: a decoder worker and the decode of the
folder's first image first, then Qt and the window), with one hook: when the view draws its
first image, the child prints the seconds since the parent launched it and closes. Settings
and the data store are fresh (temporary folders), as on a new machine; the operating
system's file cache is warm after the first run, so the first run is the coldest.

Run: ``QT_QPA_PLATFORM=offscreen python -m benchmarks.cold_start [--runs 3] [FOLDER]``
(default folder: the bundled samples), or under ``xvfb-run`` with ``QT_QPA_PLATFORM=xcb``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fracture_desktop.core.paths import DATA_DIR_ENV, resources_root

#: The issue's target for the first image of the sample folder.
TARGET_S = 1.5

#: Run in the child: ``run_viewer`` as it is (decoder worker and first decode before Qt), the
#: view patched, where ``run_viewer`` imports it, to report its first image.
CHILD = """
import sys, time
from pathlib import Path
launched, folder = float(sys.argv[1]), Path(sys.argv[2])
from fracture_desktop.gui import app
made = app.create_window
def create_window(folder):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from fracture_desktop.gui.widgets.image_view import ImageView
    shown = ImageView.set_image
    def first(self, *args, **kwargs):
        shown(self, *args, **kwargs)
        print(f"first image {time.time() - launched:.3f}", flush=True)
        QTimer.singleShot(0, QApplication.closeAllWindows)
    ImageView.set_image = first
    return made(folder)
app.create_window = create_window
sys.exit(app.run_viewer(folder))
"""


def one_run(folder: Path, scratch: Path) -> float:
    """Seconds from launch to the first image, in a fresh process with fresh settings."""
    home = Path(tempfile.mkdtemp(dir=scratch))
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        DATA_DIR_ENV: str(home / "store"),
    }
    launched = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, repr(launched), str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    for line in done.stdout.splitlines():
        if line.startswith("first image "):
            return float(line.split()[-1])
    raise SystemExit(f"no image was shown (exit {done.returncode}):\n{done.stderr[-2000:]}")


def bytecode_state() -> str:
    """Whether the viewer's modules start from compiled bytecode: compiling them from source
    costs a start about 0.1 s (docs/PACKAGING.md); ``make run`` compiles them."""
    import importlib.util

    import fracture_desktop.gui.app as app_module

    source = Path(app_module.__file__)
    compiled = Path(importlib.util.cache_from_source(str(source)))
    fresh = compiled.is_file() and compiled.stat().st_mtime >= source.stat().st_mtime
    state = "compiled (.pyc)" if fresh else "compiled from source at every start"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        state += ", PYTHONDONTWRITEBYTECODE set"
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=resources_root() / "samples")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    platform = os.environ.get("QT_QPA_PLATFORM", "default")
    print(f"cold start to the first image of {args.folder} ({platform}, load average {load})")
    print(f"the app's modules: {bytecode_state()}")
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        times = [one_run(args.folder, Path(tmp)) for _ in range(args.runs)]
    print("runs: " + ", ".join(f"{t:.2f} s" for t in times))
    print(f"median {statistics.median(times):.2f} s (target < {TARGET_S} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
