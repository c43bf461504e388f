"""The localisation head's shape and the boxes read off its map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fracture_desktop.core.boxes import Box, decode_boxes, suppress
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.engine import frozen
from fracture_desktop.core.inference.localiser import INITIAL_BOX_SIZE, read_maps
from fracture_desktop.core.inference.models import ARCHITECTURES

SPEC = InputSpec(size=256, letterbox=True, channels=1)


@pytest.mark.parametrize(
    ("arch", "channels"),
    [
        ("efficientnet_lite0_loc", 1),
        ("efficientnet_lite0_boxes", 3),
    ],
)
def test_localising_lite0_gives_one_logit_and_stride_4_maps(arch: str, channels: int) -> None:
    model = ARCHITECTURES[arch]().eval()
    x = torch.rand(2, 1, 256, 256)
    with torch.no_grad():
        logit, raw = model.forward_with_map(x)
        assert torch.allclose(logit, model(x))
        assert raw.shape == (2, channels, 64, 64)
        folded_logit, folded = frozen(model).forward_with_map(x)
    # Folding the head's batch norms changes nothing but rounding.
    assert torch.allclose(folded, raw, atol=1e-4)
    assert torch.allclose(folded_logit, logit, atol=1e-4)
    maps = read_maps(raw)
    assert ((maps[:, 0] > 0) & (maps[:, 0] < 1)).all()
    # Untrained, every box of a centre head starts at the initial size.
    assert np.allclose(maps[:, 1:], INITIAL_BOX_SIZE, rtol=0.5)


def test_a_peak_becomes_a_box_in_stored_image_pixels() -> None:
    # A 512 x 1024 image letterboxes into 256 x 256 at a quarter scale, as rows 64..192.
    scores = np.zeros((64, 64), dtype=np.float32)
    scores[30, 40] = 0.9
    scores[30, 41] = 0.6  # above half the peak: the box grows by one cell to the right
    scores[31, 40] = 0.3  # below half: not part of the box
    (box,) = decode_boxes(scores[None], (512, 1024), SPEC, threshold=0.5)
    # Cells are 4 input px = 16 image px; columns 40..41 -> input 160..168 -> image 640..672.
    assert (box.x0, box.x1) == pytest.approx((640.0, 672.0))
    # Row 30 -> input 120..124 -> less the 64-row band, times 4 -> image 224..240.
    assert (box.y0, box.y1) == pytest.approx((224.0, 240.0))
    assert box.score == pytest.approx(0.9)
    assert decode_boxes(scores[None], (512, 1024), SPEC, threshold=0.95) == ()


def test_shrink_scales_about_the_centre_and_boxes_stay_inside_the_image() -> None:
    scores = np.zeros((64, 64), dtype=np.float32)
    scores[0, 0] = scores[10, 10] = 0.8
    boxes = decode_boxes(scores[None], (256, 256), SPEC, threshold=0.5, shrink=0.5)
    assert len(boxes) == 2
    for box in boxes:
        assert 0 <= box.x0 < box.x1 <= 256 and 0 <= box.y0 < box.y1 <= 256
        assert box.x1 - box.x0 == pytest.approx(2.0)


def test_suppression_keeps_the_best_of_overlapping_boxes_and_max_boxes_holds() -> None:
    a, b, c = Box(0, 0, 10, 10, 0.9), Box(1, 1, 11, 11, 0.8), Box(50, 50, 60, 60, 0.7)
    assert suppress([b, c, a]) == [a, c]
    scores = np.zeros((64, 64), dtype=np.float32)
    for k in range(6):
        scores[5 + 10 * k, 5] = 0.9 - 0.1 * k
    boxes = decode_boxes(scores[None], (256, 256), SPEC, threshold=0.1, max_boxes=3)
    assert [round(b.score, 1) for b in boxes] == [0.9, 0.8, 0.7]


def test_a_centre_peak_becomes_a_box_of_the_predicted_size() -> None:
    maps = np.zeros((3, 64, 64), dtype=np.float32)
    maps[0, 30, 40] = 0.9
    maps[0, 30, 41] = 0.8  # a lower neighbour: not a peak of its own
    maps[1:, 30, 40] = [12.0, 20.0]  # width, height in input pixels
    (box,) = decode_boxes(maps, (512, 1024), SPEC, threshold=0.5)
    # Cell (30, 40) is centred on input (162, 122); the image is 4x the input, its band
    # starts at input row 64: centre (648, 232), 48 x 80 image px.
    assert (box.x0, box.x1) == pytest.approx((624.0, 672.0))
    assert (box.y0, box.y1) == pytest.approx((192.0, 272.0))
    assert box.score == pytest.approx(0.9)
