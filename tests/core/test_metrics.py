"""Metrics on tiny cases whose answers are known by hand, and on random cases against
scikit-learn and scipy, whose definitions they follow without importing them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from fracture_desktop.core import metrics

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


def random_cases(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Labels and scores of many sizes and prevalences, with ties (scores rounded to few
    digits, as a model's calibrated probabilities may be) and without."""
    rng = np.random.default_rng(seed)
    cases = []
    for n in (2, 3, 7, 30, 200, 1000):
        for digits in (1, 2, None):
            labels = rng.integers(0, 2, n)
            labels[:2] = (0, 1)  # both classes
            scores = rng.random(n) + 0.3 * labels
            cases.append((labels, scores if digits is None else np.round(scores, digits)))
    return cases


def test_scores_match_scikit_learn_with_and_without_ties() -> None:
    for labels, scores in random_cases(0):
        assert metrics.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
        assert metrics.average_precision(labels, scores) == pytest.approx(
            average_precision_score(labels, scores)
        )
    # By hand: one tie between a positive and a negative counts a half.
    assert metrics.roc_auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.5, 0.5, 0.9])) == 7 / 8
    # Precision 1 at the first positive, 2/3 at the second.
    assert metrics.average_precision(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7])) == (
        pytest.approx((1 + 2 / 3) / 2)
    )


def test_a_score_that_is_not_a_number_is_refused() -> None:
    labels = np.array([0, 1, 0, 1])
    for score in (metrics.roc_auc, metrics.average_precision):
        with pytest.raises(ValueError, match="finite"):
            score(labels, np.array([0.1, np.nan, 0.3, 0.9]))


def test_operating_point_matches_the_confusion_matrix() -> None:
    for labels, scores in random_cases(1):
        point = metrics.operating_point(labels, scores, 0.5)
        called = scores >= 0.5
        positive = labels == 1
        assert (point.tp, point.fp) == (np.sum(called & positive), np.sum(called & ~positive))
        assert point.tp + point.fn == labels.sum()
        assert point.tn + point.fp == len(labels) - labels.sum()


def test_rate_lower_bound_matches_scipy_beta_quantile() -> None:
    for trials in (1, 5, 29, 100, 523, 2000):
        for successes in sorted({1, trials // 3, trials // 2, trials - 1, trials} - {0}):
            for confidence in (0.95, 0.99):
                expected = stats.beta.ppf(1 - confidence, successes, trials - successes + 1)
                bound = metrics.rate_lower_bound(successes, trials, confidence)
                assert bound == pytest.approx(expected, rel=1e-8, abs=1e-10)
