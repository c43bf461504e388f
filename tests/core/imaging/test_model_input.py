"""The model input's intensity step: what an equalised input keeps and what it forgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fracture_desktop.core.imaging.image import display_grey
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.model_input import (
    InputSpec,
    equalise,
    input_from_grey,
    model_input,
)

WINDOW = InputSpec(256, True, 1)
EQUALISED = InputSpec(256, True, 1, "equalised")


@pytest.fixture(scope="module")
def radiograph(fracatlas_dir: Path) -> tuple[np.ndarray, Path]:
    """A real FracAtlas radiograph as the reader first sees it, and its path."""
    path = fracatlas_dir / "images" / "Fractured" / "IMG0000025.jpg"
    return display_grey(load_image(path)), path


def test_equalised_input_forgets_a_source_s_contrast_curve(
    radiograph: tuple[np.ndarray, Path],
) -> None:
    grey, path = radiograph
    # Another source's processing: a gamma, and a brighter exposure that saturates.
    for other in (grey**0.6, np.clip(grey * 1.3, 0.0, 1.0)):
        window_change = np.abs(
            input_from_grey(other, WINDOW, path) - input_from_grey(grey, WINDOW, path)
        )
        assert window_change.mean() > 0.02
        equalised_change = np.abs(
            input_from_grey(other, EQUALISED, path) - input_from_grey(grey, EQUALISED, path)
        )
        # Only the resize before the step and the saturated ties differ.
        assert equalised_change.mean() < 0.002


def test_equalised_input_keeps_the_order_of_grey_levels_and_black(
    radiograph: tuple[np.ndarray, Path],
) -> None:
    grey, path = radiograph
    window = input_from_grey(grey, WINDOW, path)[0]
    equalised = model_input(load_image(path), EQUALISED)[0]
    assert equalised.dtype == np.float32 and equalised.min() >= 0.0 and equalised.max() > 0.99
    # The letterbox padding and black in the image stay black; nothing else becomes black.
    np.testing.assert_array_equal(equalised == 0.0, window == 0.0)
    lit = window > 0.0
    order = np.argsort(window[lit], kind="stable")
    assert np.all(np.diff(equalised[lit][order]) >= 0.0)
    # Mid-ranks: the image's mean is the middle of the range, whatever its exposure.
    assert equalised[lit].mean() == pytest.approx(0.5, abs=1e-4)


def test_padding_does_not_change_the_equalised_image() -> None:
    image = np.random.default_rng(0).random((40, 30), dtype=np.float32)
    padded = np.zeros((40, 60), dtype=np.float32)
    padded[:, 15:45] = image
    np.testing.assert_array_equal(equalise(padded)[:, 15:45], equalise(image))
    assert not equalise(np.zeros((8, 8), dtype=np.float32)).any()


def test_an_unknown_intensity_step_is_refused() -> None:
    with pytest.raises(ValueError, match="intensity step"):
        InputSpec(256, True, 1, "clahe")
