"""Training-time statistics: temperature scaling, and paired comparisons of two models.

The metrics a site's validation needs too live in :mod:`fracture_desktop.core.metrics`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from fracture_desktop.core.metrics import SCORES, Interval, bootstrap


def paired_difference(
    labels: np.ndarray,
    probs_a: np.ndarray,
    probs_b: np.ndarray,
    metric: str,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """``metric`` of model A minus that of model B on the same images, with a 95% interval.

    Both models are scored on each resample of the images, so the interval counts only
    the noise in their difference, which is much narrower than the two models' own
    intervals suggest when the models rank the images alike.

    ``probs_a`` and ``probs_b`` may also hold several runs of one recipe, one row each
    (runs, images), e.g. seeds: their mean ``metric`` is compared, and each resample also
    draws each side's runs with replacement, so the interval counts the spread between
    seeds as well as which images happened to be held out. With one run a side it is the
    single-model interval.
    """
    score = SCORES[metric]
    runs_a, runs_b = np.atleast_2d(probs_a), np.atleast_2d(probs_b)
    # Runs are drawn from their own stream, so the image resamples match the one-run case.
    runs_rng = np.random.default_rng([seed, 1])

    def scores(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.array([score(labels[idx], run[idx]) for run in runs_a]),
            np.array([score(labels[idx], run[idx]) for run in runs_b]),
        )

    def difference(idx: np.ndarray) -> float:
        a, b = scores(idx)
        return float(a.mean() - b.mean())

    def resampled_difference(idx: np.ndarray) -> float:
        a, b = scores(idx)
        a = a[runs_rng.integers(0, len(a), len(a))]
        b = b[runs_rng.integers(0, len(b), len(b))]
        return float(a.mean() - b.mean())

    return bootstrap(labels, difference, n_resamples, seed, resampled_difference)


def fit_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T minimising the NLL of sigmoid(logit / T)."""
    y = labels.astype(np.float64)
    z = logits.astype(np.float64)

    def nll(log_t: float) -> float:
        s = z / np.exp(log_t)
        # log(1 + e^s) - y s, computed stably
        return float(np.mean(np.logaddexp(0.0, s) - y * s))

    result = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(result.x))
