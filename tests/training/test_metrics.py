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


def test_paired_difference_by_hand() -> None:
    perfect = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.9])
    same = metrics.paired_difference(LABELS, PROBS, PROBS, "roc_auc", n_resamples=200)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    better = metrics.paired_difference(LABELS, perfect, PROBS, "roc_auc", n_resamples=200)
    # 8 of 8 pairs against 7 of 8; no resample can favour the imperfect ranking.
    assert better.value == pytest.approx(1 / 8)
    assert 0.0 <= better.low <= better.value <= better.high


def test_paired_difference_of_recipes_counts_the_spread_between_runs() -> None:
    labels = np.repeat([0, 1], 20)
    perfect = labels + np.linspace(0.0, 0.5, 40)
    inverted, constant = -perfect, np.full(40, 0.5)
    # Alone, each run's ROC-AUC is the same on every resample of the images: 1, 0 and 0.5.
    alone = metrics.paired_difference(labels, perfect, constant, "roc_auc", n_resamples=200)
    assert (alone.value, alone.low, alone.high) == pytest.approx((0.5, 0.5, 0.5))
    # Recipe A's two seeds average 0.5, level with B; but a quarter of the resamples draw
    # A's good seed twice and a quarter its bad one twice.
    recipes = metrics.paired_difference(
        labels, np.stack([perfect, inverted]), constant[None], "roc_auc", n_resamples=200
    )
    assert (recipes.value, recipes.low, recipes.high) == pytest.approx((0.0, -0.5, 0.5))


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


def test_rate_lower_bound_is_clopper_pearson() -> None:
    # With every one of n trials a success, the exact bound solves p**n = 1 - confidence.
    assert metrics.rate_lower_bound(29, 29, 0.95) == pytest.approx(0.05 ** (1 / 29))
    assert metrics.rate_lower_bound(0, 10, 0.95) == 0.0
    assert metrics.rate_lower_bound(9, 10, None) == 0.9
    # 90 of 100 observed: the true rate may well be lower than 0.9.
    assert 0.83 < metrics.rate_lower_bound(90, 100, 0.95) < 0.85


def test_a_confident_threshold_leaves_a_margin() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], [400, 100])
    probs = np.concatenate([rng.beta(2, 5, 400), rng.beta(5, 2, 100)])
    plain = metrics.threshold_for_sensitivity(labels, probs, 0.9)
    sure = metrics.threshold_for_sensitivity(labels, probs, 0.9, confidence=0.95)
    found = metrics.operating_point(labels, probs, sure)
    assert sure < plain
    assert metrics.rate_lower_bound(found.tp, 100, 0.95) >= 0.9
    # The next higher threshold would no longer keep the promise: the choice is the tightest.
    above = np.unique(probs[probs > sure]).min()
    assert metrics.rate_lower_bound(int(np.sum(probs[labels == 1] >= above)), 100, 0.95) < 0.9
    spec_sure = metrics.threshold_for_specificity(labels, probs, 0.9, confidence=0.95)
    assert spec_sure > metrics.threshold_for_specificity(labels, probs, 0.9)
    negatives_below = int(np.sum(probs[labels == 0] < spec_sure))
    assert metrics.rate_lower_bound(negatives_below, 400, 0.95) >= 0.9


def test_doubt_reaches_its_sensitivity_on_each_source() -> None:
    # Source "b"'s fractures score higher than source "a"'s: on the union, doubt can sit
    # above a quarter of a's fractures, yet with the sources named it must catch a's too.
    rng = np.random.default_rng(1)
    labels = np.array([1] * 100 + [0] * 300 + [1] * 300 + [0] * 100)
    probs = np.concatenate(
        [
            rng.uniform(0.2, 0.7, 100),
            rng.uniform(0.0, 0.5, 300),
            rng.uniform(0.6, 1.0, 300),
            rng.uniform(0.0, 0.5, 100),
        ]
    )
    sources = np.array(["a"] * 400 + ["b"] * 400)
    a_fractures = probs[(sources == "a") & (labels == 1)]

    _, union_doubt = metrics.operating_thresholds(labels, probs)
    _, doubt = metrics.operating_thresholds(labels, probs, sources)

    assert np.mean(a_fractures >= union_doubt) < 0.90
    assert np.mean(a_fractures >= doubt) >= 0.90
    assert doubt == min(
        metrics.threshold_for_sensitivity(
            labels[sources == s],
            probs[sources == s],
            metrics.SENSITIVITY_TARGET,
            metrics.CONFIDENCE,
        )
        for s in ("a", "b")
    )
