"""The folder shift warning: its statistics, and ``scan`` on FracAtlas and shifted folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from pypdf import PdfReader
from scipy import stats

from fracture_desktop import cli
from fracture_desktop.core.metrics import binomial_upper_tail
from fracture_desktop.core.shift import (
    MIN_FOLDER_SIZE,
    folder_shift,
    kolmogorov_smirnov,
)
from fracture_desktop.training.dataset import source_samples

FOLDER_SIZE = 60


def test_kolmogorov_smirnov_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    for shift in (0.0, 0.2, 0.5):
        a, b = rng.normal(0, 1, 80), rng.normal(shift, 1, 500)
        distance, p = kolmogorov_smirnov(a, b)
        expected = stats.ks_2samp(a, b, method="asymp")
        assert distance == pytest.approx(expected.statistic)
        assert p == pytest.approx(expected.pvalue, rel=0.15, abs=1e-3)


def test_binomial_tail_matches_scipy() -> None:
    for k, n in ((3, 60), (12, 91), (60, 60)):
        assert binomial_upper_tail(k, n, 0.05) == pytest.approx(stats.binom.sf(k - 1, n, 0.05))


def test_small_folders_are_not_tested() -> None:
    val = np.linspace(0, 1, 500)
    few = folder_shift([5.0] * (MIN_FOLDER_SIZE - 1), [0.9] * (MIN_FOLDER_SIZE - 1), val, val)
    assert not few.tested and not few.warning
    many = folder_shift([5.0] * MIN_FOLDER_SIZE, [0.9] * MIN_FOLDER_SIZE, val, val)
    assert many.tested and many.warning and many.statistic == 1.0


@pytest.fixture(scope="module")
def test_folder(fracatlas_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 FracAtlas test images, every eighth, as a site would have them: mixed classes."""
    test = [s for s in source_samples(fracatlas_dir) if s.split == "test"][::8][:FOLDER_SIZE]
    folder = tmp_path_factory.mktemp("fracatlas_test")
    for sample in test:
        shutil.copy(sample.path, folder / sample.image_id)
    return folder


def reacquired(source: Path, target: Path, seed: int) -> None:
    """The same radiograph through another imaging chain: softer, brighter, noisier."""
    rng = np.random.default_rng(seed)
    image = Image.open(source).convert("L").filter(ImageFilter.GaussianBlur(2))
    values = 255 * (np.asarray(image, np.float32) / 255) ** 0.5
    values += rng.normal(0, 12, values.shape)
    Image.fromarray(np.clip(values, 0, 255).astype(np.uint8)).save(target)


def scan_summary(folder: Path, model: Path, out: Path, *extra: str) -> dict:
    argv = ["scan", str(folder), "--model", str(model), "--device", "cpu"]
    assert cli.main([*argv, "--summary-json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def test_scan_warns_on_a_shifted_folder_and_not_on_fracatlas_test_images(
    test_folder: Path,
    shipped_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = scan_summary(test_folder, shipped_model_dir, tmp_path / "plain.json")
    assert plain["n_images"] == FOLDER_SIZE
    assert plain["shift_warning"] is False
    assert plain["n_outside_domain"] <= 0.15 * FOLDER_SIZE
    assert "WARNING" not in capsys.readouterr().out

    shifted = tmp_path / "shifted"
    shifted.mkdir()
    for i, path in enumerate(sorted(test_folder.iterdir())):
        reacquired(path, shifted / f"{path.stem}.png", i)
    pdf = tmp_path / "shifted.pdf"
    summary = scan_summary(shifted, shipped_model_dir, tmp_path / "s.json", "--pdf", str(pdf))
    assert summary["n_images"] == FOLDER_SIZE
    assert summary["shift_warning"] is True
    assert summary["shift_statistic"] > plain["shift_statistic"]
    assert summary["n_outside_domain"] > plain["n_outside_domain"]
    assert "validate it on local cases" in summary["shift_message"]
    assert "WARNING" in capsys.readouterr().out
    first_page = PdfReader(pdf).pages[0].extract_text()
    assert "Folder shift warning" in first_page
    assert "Outside the domain" in "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
