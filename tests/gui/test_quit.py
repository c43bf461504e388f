"""Quitting after a long session: no crash while the interpreter shuts down.

The crash readers saw ("Fatal Python error: bool_dealloc ... finalizing", after a day with a
1,000-image folder) came from the Qt binding: PySide6 6.12.0 on CPython 3.11 drops one
reference to ``None`` on every call of a C++ method returning void and one to ``True`` on
every signal emit. Python before 3.12 counts references to those singletons too, so a long
session drains them, and the interpreter frees ``True`` (or ``None``) while it finalizes, or
earlier. pyproject.toml keeps PySide6 below 6.12; these tests catch a binding that does it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from fracture_desktop.core.paths import resources_root

pytestmark = pytest.mark.gui

HERE = Path(__file__).resolve().parent
IMAGES = 300
RUNS = 3


class _Emitter(QObject):
    sig = Signal(object)


@pytest.mark.parametrize("singleton", [None, True])
def test_the_qt_binding_keeps_the_singletons_references(qtbot, singleton) -> None:
    label, emitter = QLabel(), _Emitter()
    qtbot.addWidget(label)
    emitter.sig.connect(lambda _x: None)
    before = sys.getrefcount(singleton)
    for _ in range(1000):
        label.setText("x")  # a method returning void
        emitter.sig.emit(1)  # emit returns True
    lost = before - sys.getrefcount(singleton)
    assert lost < 10, (
        f"the Qt binding dropped {lost} references to {singleton} in 1000 calls: "
        "this PySide6 corrupts the interpreter on Python < 3.12 (see pyproject.toml)"
    )


@pytest.fixture(scope="module")
def large_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``IMAGES`` distinct names (copies of the bundled FracAtlas samples)."""
    folder = tmp_path_factory.mktemp("large")
    samples = sorted((resources_root() / "samples" / "fracatlas").glob("*.jpg"))
    for i in range(IMAGES):
        shutil.copy(samples[i % len(samples)], folder / f"IMG{i:07d}.jpg")
    return folder


def test_a_long_session_quits_cleanly_every_time(
    large_folder: Path, model_dir: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), str(HERE.parents[1]), env.get("PYTHONPATH", "")]
    )
    for run in range(RUNS):
        scratch = tmp_path / f"run{run}"
        scratch.mkdir()
        done = subprocess.run(
            [
                sys.executable,
                str(HERE / "long_session.py"),
                str(large_folder),
                str(model_dir),
                str(scratch),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "Fatal Python error" not in done.stderr, done.stderr[-3000:]
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"analysed {IMAGES} of {IMAGES}" in done.stdout
