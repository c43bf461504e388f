"""Box metrics checked by hand on tiny cases."""

from __future__ import annotations

import pytest

from fracture_desktop.core.boxes import Box
from fracture_desktop.training.box_metrics import (
    average_precision,
    box_report,
    froc,
    pointing_game,
)

TRUTH = [[(10.0, 10.0, 20.0, 20.0)], [(50.0, 50.0, 60.0, 60.0), (0.0, 0.0, 4.0, 4.0)], []]


def test_pointing_game_reads_the_top_box_of_annotated_images_only() -> None:
    predicted = [
        [Box(12, 12, 18, 18, 0.9)],  # centre inside: hit
        [Box(80, 80, 90, 90, 0.9), Box(50, 50, 60, 60, 0.5)],  # top box misses
        [Box(0, 0, 1, 1, 0.99)],  # normal image: not counted
    ]
    assert pointing_game(predicted, TRUTH) == pytest.approx(0.5)
    assert pointing_game([[], [], []], TRUTH) == 0.0


def test_froc_counts_found_boxes_against_false_boxes_per_image() -> None:
    predicted = [
        [Box(12, 12, 18, 18, 0.9)],  # finds box 1 of 3
        [Box(80, 80, 90, 90, 0.8), Box(51, 51, 59, 59, 0.7)],  # a false box, then box 2
        [Box(0, 0, 1, 1, 0.6), Box(5, 5, 6, 6, 0.5)],  # two false boxes on a normal image
    ]
    result = froc(predicted, TRUTH)
    # After 0.9, 0.8 and 0.7: two found, one false box (1/3 per image).
    assert result["sensitivity_at_0.5_false_per_image"] == pytest.approx(2 / 3)
    assert result["sensitivity_at_1_false_per_image"] == pytest.approx(2 / 3)


def test_average_precision_is_one_for_exact_boxes_and_drops_with_a_better_scored_miss() -> None:
    exact = [[Box(*TRUTH[0][0], 0.9)], [Box(*r, 0.8) for r in TRUTH[1]], []]
    assert average_precision(exact, TRUTH) == pytest.approx(1.0)
    # A false box scored above every true one: precision 1/2, 2/3, 3/4 at recall 1/3..1,
    # which all-point interpolation raises to 3/4 at every recall.
    worse = [*exact[:2], [Box(100, 100, 110, 110, 0.95)]]
    assert average_precision(worse, TRUTH) == pytest.approx(0.75)
    # Scored below every true one, it costs nothing.
    later = [*exact[:2], [Box(100, 100, 110, 110, 0.1)]]
    assert average_precision(later, TRUTH) == pytest.approx(1.0)
    # A box shifted to IoU < 0.5 is no hit.
    shifted = [[Box(15, 15, 25, 25, 0.9)], [], []]
    assert average_precision(shifted, TRUTH) == 0.0


def test_report_gives_chance_as_the_boxes_share_of_each_image() -> None:
    report = box_report([[], [], []], TRUTH, [400.0, 1000.0, 400.0])
    assert report["chance_box_area_fraction"] == pytest.approx((100 / 400 + 116 / 1000) / 2)
    assert report["images_with_boxes"] == 2 and report["images"] == 3
