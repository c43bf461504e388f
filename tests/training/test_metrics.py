"""Metrics on tiny cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fracture_desktop.training import metrics

LABELS = np.array([0, 0, 0, 0, 1, 1])
PROBS = np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.9])


def test_operating_point_counts_by_hand() -> None:
    point = metrics.operating_point(LABELS, PROBS, 0.5)
    assert (point.tp, point.fp, point.tn, point.fn) == (2, 1, 3, 0)
    assert point.sensitivity == 1.0
    assert point.specificity == 0.75
    assert point.precision == pytest.approx(2 / 3)
    assert point.accuracy == pytest.approx(5 / 6)


def test_auc_interval_contains_the_estimate() -> None:
    interval = metrics.bootstrap_interval(LABELS, PROBS, "roc_auc", n_resamples=200)
    # 7 of the 8 positive/negative pairs are ordered correctly.
    assert interval.value == pytest.approx(7 / 8)
    assert interval.low <= interval.value <= interval.high


def test_thresholds_meet_their_targets() -> None:
    spec_t = metrics.threshold_for_specificity(LABELS, PROBS, 0.75)
    assert metrics.operating_point(LABELS, PROBS, spec_t).specificity >= 0.75
    # The most sensitive such threshold keeps both positives.
    assert metrics.operating_point(LABELS, PROBS, spec_t).sensitivity == 1.0
    sens_t = metrics.threshold_for_sensitivity(LABELS, PROBS, 1.0)
    assert sens_t == 0.6
    full = metrics.threshold_for_specificity(LABELS, PROBS, 1.0)
    assert metrics.operating_point(LABELS, PROBS, full).specificity == 1.0
    assert metrics.operating_point(LABELS, PROBS, full).tp == 1


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, 20_000)
    labels = (rng.random(logits.size) < 1 / (1 + np.exp(-logits / 2.0))).astype(int)
    assert metrics.fit_temperature(labels, logits) == pytest.approx(2.0, rel=0.1)
