"""Where the app's bundled files live, in a source tree and in a PyInstaller bundle.

A source checkout keeps ``resources/`` and ``models/`` beside the package; a one-folder
PyInstaller build unpacks them into ``sys._MEIPASS`` (the ``_internal`` folder), together
with the build-info file written by ``build_scripts/fracture_desktop.spec``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import platformdirs

#: The folder name of the per-user data directory (decisions, stored results).
APP_NAME = "FractureDesktop"
#: Names another data directory (tests, a portable install); else platformdirs' choice.
DATA_DIR_ENV = "FRACTURE_DESKTOP_DATA_DIR"
#: Written into the bundle root by the PyInstaller spec; absent in a source tree.
BUILD_INFO_FILE = "build_info.json"


def bundle_root() -> Path:
    """The folder holding ``resources/`` and ``models/``.

    Returns
    -------
    Path
        ``sys._MEIPASS`` when frozen by PyInstaller, else the checkout root (the parent
        of the ``fracture_desktop`` package).
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parents[2]


def resources_root() -> Path:
    """``resources/``: icons, style sheet, sample studies."""
    return bundle_root() / "resources"


def models_root() -> Path:
    """``models/``: one folder per shipped model (weights + model card)."""
    return bundle_root() / "models"


def build_info() -> dict[str, Any] | None:
    """The build-info record of a packaged app (version, commit, date, weights' sha256).

    Returns
    -------
    dict or None
        The parsed file, or None when running from a source tree.
    """
    path = bundle_root() / BUILD_INFO_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def user_data_dir() -> Path:
    """The per-user folder for what the app remembers (decisions, analysis results).

    Never a study folder: the app writes nothing among the images it reads.
    ``$FRACTURE_DESKTOP_DATA_DIR`` names another one.
    """
    chosen = os.environ.get(DATA_DIR_ENV)
    return Path(chosen) if chosen else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
