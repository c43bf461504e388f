"""Training-time statistics: paired comparisons of two models, temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest

from fracture_desktop.training import metrics

LABELS = np.array([0, 0, 0, 0, 1, 1])
PROBS = np.array([0.1, 0.2, 0.3, 0.7, 0.6, 0.9])


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


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, 20_000)
    labels = (rng.random(logits.size) < 1 / (1 + np.exp(-logits / 2.0))).astype(int)
    assert metrics.fit_temperature(labels, logits) == pytest.approx(2.0, rel=0.1)
