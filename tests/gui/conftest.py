"""Fixtures for the viewer tests: a mixed sample folder, an isolated window, fake engines."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gui_helpers import FakeEngine
from PySide6.QtCore import QSettings

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.inference.card import load_card
from fracture_desktop.core.results_store import ResultsStore
from fracture_desktop.core.store import DataStore

PYDICOM = Path("dicom/pydicom_3.0.2")
DICOM_FILES = {
    "CT_small.dcm": PYDICOM / "CT_small.dcm",
    "MR_small.dcm": PYDICOM / "MR_small.dcm",
    # A CR with Imager Pixel Spacing (stored under a name without extension on purpose).
    "cr_cervical": PYDICOM / "dicomdirtests/77654033/CR1/6154",
}
JPEG_COUNT = 3
#: Sample folder contents: 3 DICOM + 3 JPEG images, and one broken file.
IMAGE_COUNT = len(DICOM_FILES) + JPEG_COUNT


@pytest.fixture
def sample_folder(tmp_path: Path, shared_dir: Path) -> Path:
    folder = tmp_path / "study"
    (folder / "xr").mkdir(parents=True)
    for name, source in DICOM_FILES.items():
        shutil.copy(shared_dir / source, folder / name)
    jpegs = sorted((shared_dir / "datasets/fracatlas/images/Fractured").glob("*.jpg"))
    if len(jpegs) < JPEG_COUNT:
        pytest.skip("FracAtlas images are not available")
    for jpeg in jpegs[:JPEG_COUNT]:
        shutil.copy(jpeg, folder / "xr" / jpeg.name)
    (folder / "broken.dcm").write_bytes(b"this is not an image at all\n" * 10)
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path: Path, model_dir: Path) -> Iterator[Callable[..., object]]:
    """Build main windows with settings and decisions kept in ``tmp_path``."""
    from fracture_desktop.gui.app import application
    from fracture_desktop.gui.main_window import MainWindow
    from fracture_desktop.gui.settings import ViewerSettings

    application()
    made = []

    def make(
        engine: FakeEngine | None = None,
        model: Path | None = None,
        size: tuple[int, int] | None = (1200, 800),
    ) -> MainWindow:
        settings = ViewerSettings(
            QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        )
        store = DataStore(tmp_path / "results.sqlite3")  # a restart: a new one on the file
        decisions = DecisionStore(store, reader=settings.reader_name)
        results = ResultsStore(store)

        def factory(directory: Path, _device: str) -> FakeEngine:
            engine.card = load_card(directory)
            return engine

        factory = None if engine is None else factory
        window = MainWindow(settings, decisions, model or model_dir, factory, results)
        qtbot.addWidget(window)
        if size is not None:  # None: as the window sized itself
            window.resize(*size)
        window.show()
        qtbot.waitUntil(
            lambda: (
                window.analysis.card is not None
                or window.status.model_label.text() != "Model: checking\u2026"
            )
        )
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()
    # Collect the closed windows here, where no worker runs: left to chance, a collection
    # in the middle of a later test frees their Qt objects while that test's workers run.
    made.clear()
    gc.collect()
