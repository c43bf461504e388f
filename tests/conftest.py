"""Shared fixtures: the real test files in ../shared, found relative to this checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before any test imports Qt (docs/ARCHITECTURE.md, threads): tests never open windows.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests needing it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared (real DICOM and FracAtlas files) is not available")
    return SHARED


def shared_part(shared_dir: Path, folder: str, marker: str) -> Path:
    """``shared_dir / folder``, or skip the test when its ``marker`` file is not there."""
    path = shared_dir / folder
    if not (path / marker).is_file():
        pytest.skip(f"../shared/{folder} is not available")
    return path


@pytest.fixture(scope="session")
def dicom_dir(shared_dir: Path) -> Path:
    """``../shared/dicom``: the DICOM test corpus, listed in its MANIFEST.tsv."""
    return shared_part(shared_dir, "dicom", "MANIFEST.tsv")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loadable random-weights model: flags are meaningless, plumbing and timings real."""
    from fracture_desktop.training.export import untrained_model_dir

    directory = tmp_path_factory.mktemp("model") / "fracture_net-untrained"
    untrained_model_dir(directory)
    return directory


@pytest.fixture(autouse=True)
def profile_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Site profiles in a temp folder: no test reads or writes the user's own."""
    from fracture_desktop.core.site_profile import PROFILE_DIR_ENV

    folder = tmp_path / "site_profiles"
    monkeypatch.setenv(PROFILE_DIR_ENV, str(folder))
    return folder


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user data directory (decisions, kept results) in a temp folder, for every test
    and every command a test runs."""
    from fracture_desktop.core.paths import DATA_DIR_ENV

    folder = tmp_path / "user_data"
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    return folder


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    """The shipped model, with its domain check; tests of what it answers for use it."""
    from fracture_desktop.core.inference.card import default_model_dir, load_card

    directory = default_model_dir()
    assert load_card(directory).domain_file, "the shipped model must have a domain check"
    return directory


@pytest.fixture(scope="session")
def fracatlas_dir(shared_dir: Path) -> Path:
    """``../shared/datasets/fracatlas``: the FracAtlas images and their splits.csv."""
    return shared_part(shared_dir, "datasets/fracatlas", "splits.csv")


@pytest.fixture(scope="session")
def mura_dir(shared_dir: Path) -> Path:
    """``../shared/datasets/mura_roboflow``: the second training source, with its splits.csv
    and corner boxes."""
    return shared_part(shared_dir, "datasets/mura_roboflow", "splits.csv")


@pytest.fixture(scope="session")
def fuzz_dir(shared_dir: Path) -> Path:
    """``../shared/fuzz``: hostile files that once broke the scan, one folder per failure."""
    return shared_part(shared_dir, "fuzz", "README.md")
