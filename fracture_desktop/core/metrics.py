"""Metrics for a binary fracture classifier, with bootstrap intervals and operating points.

Pure functions of labels and probabilities, in numpy alone: ``fracture-desktop validate``, a
site's check of the model on its own cases, runs in the desktop bundle and the base install,
which carry neither scikit-learn nor scipy (about 190 MB installed, against the bundle's
300 MB; docs/PACKAGING.md). Each score is defined as scikit-learn's, each bound as scipy's, and
``tests/core/test_metrics.py`` holds them to those on random cases with ties.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class OperatingPoint:
    """Counts and rates at one threshold (predict fracture when probability >= threshold)."""

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / (self.tp + self.tn + self.fp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.sensitivity
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            **asdict(self),
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall_sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "f1": self.f1,
        }


def _finite(scores: np.ndarray) -> np.ndarray:
    """``scores`` as float64; a NaN or infinity raises ValueError, as in scikit-learn, since
    ranking it would give a number that means nothing."""
    values = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("scores must be finite (NaN or infinity found)")
    return values


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative, ties counting a half (the Mann-Whitney U statistic over the product of the
    class sizes; scikit-learn's ``roc_auc_score``). Both classes must be present."""
    labels = np.asarray(labels)
    _, index, counts = np.unique(_finite(scores), return_inverse=True, return_counts=True)
    # The mean rank (1-based) of each distinct score, shared by the images that tie on it.
    mean_ranks = np.cumsum(counts) - (counts - 1) / 2.0
    positive = labels == 1
    n_positive, n_negative = int(positive.sum()), int((~positive).sum())
    rank_sum = float(mean_ranks[index.ravel()][positive].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2.0) / (n_positive * n_negative)


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """PR-AUC as average precision: the precision at each distinct threshold, weighted by the
    recall it adds (scikit-learn's ``average_precision_score``, no interpolation)."""
    scores = _finite(scores)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    hits = (np.asarray(labels)[order] == 1).astype(np.float64)
    # The last image of each run of equal scores: a threshold takes them all or none.
    last = np.r_[ranked[1:] != ranked[:-1], True]
    true_positives = np.cumsum(hits)[last]
    called = (np.arange(1, len(ranked) + 1))[last]
    recall_gain = np.diff(true_positives, prepend=0.0) / true_positives[-1]
    return float(np.sum(recall_gain * true_positives / called))


SCORES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "roc_auc": roc_auc,
    "pr_auc": average_precision,
}

#: Operating-point rules, applied to calibrated probabilities: each threshold must reach its
#: target with this one-sided confidence, not just on the images it is chosen on, because a
#: threshold that only just reaches 0.90 on val misses it on new images about half the time
#: (fracture_net-v2's `doubt`: sensitivity 0.90 on val, 0.835 on test).
SPECIFICITY_TARGET = 0.90
SENSITIVITY_TARGET = 0.90
CONFIDENCE = 0.95


def operating_point(labels: np.ndarray, probs: np.ndarray, threshold: float) -> OperatingPoint:
    called = np.asarray(probs) >= threshold
    positive = np.asarray(labels) == 1
    tp, fp = int(np.sum(called & positive)), int(np.sum(called & ~positive))
    fn, tn = int(np.sum(~called & positive)), int(np.sum(~called & ~positive))
    return OperatingPoint(float(threshold), tp, fp, tn, fn)


def bootstrap_interval(
    labels: np.ndarray,
    probs: np.ndarray,
    metric: str,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Point estimate and percentile 95% interval of ``roc_auc`` or ``pr_auc`` (:data:`SCORES`).

    Resamples images with replacement; resamples holding one class only are skipped.
    """
    score = SCORES[metric]
    return bootstrap(labels, lambda idx: score(labels[idx], probs[idx]), n_resamples, seed)


def bootstrap(
    labels: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    n_resamples: int,
    seed: int,
    on_resample: Callable[[np.ndarray], float] | None = None,
) -> Interval:
    """``statistic`` of all images, and its percentile 95% interval over resamples of them
    (with replacement; resamples holding one class only are skipped). ``on_resample``, if
    given, replaces ``statistic`` on the resamples (for noise that resampling the images
    alone would miss)."""
    on_resample = on_resample or statistic
    rng = np.random.default_rng(seed)
    n = len(labels)
    values = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        if labels[idx].min() != labels[idx].max():
            values.append(on_resample(idx))
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(statistic(np.arange(n))), float(low), float(high))


def binomial_upper_tail(successes: int, trials: int, rate: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, rate), summed in log space."""
    if successes <= 0:
        return 1.0
    if rate <= 0.0:
        return 0.0
    if rate >= 1.0:
        return 1.0
    k = np.arange(successes, trials + 1)
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, trials + 1)))])
    log_pmf = (
        log_factorial[trials]
        - log_factorial[k]
        - log_factorial[trials - k]
        + k * np.log(rate)
        + (trials - k) * np.log1p(-rate)
    )
    return float(min(1.0, np.exp(log_pmf).sum()))


def rate_lower_bound(successes: int, trials: int, confidence: float | None) -> float:
    """One-sided lower confidence bound of a binomial rate, or the rate itself.

    The exact bound of Clopper and Pearson (1934): the true rate lies above it with
    probability ``confidence``. It is the rate ``p`` at which ``successes`` or more of
    ``trials`` happen with probability ``1 - confidence``, found by bisection (the tail grows
    with ``p``) to 1e-12; the beta quantile ``B(1 - confidence; successes, trials - successes
    + 1)`` that scipy gives is the same number. ``None`` gives the observed rate
    ``successes / trials``.
    """
    if confidence is None:
        return successes / trials
    if successes == 0:
        return 0.0
    low, high = 0.0, successes / trials
    while high - low > 1e-12:
        middle = (low + high) / 2.0
        if binomial_upper_tail(successes, trials, middle) < 1.0 - confidence:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def fewest_successes(trials: int, target: float, confidence: float | None) -> int:
    """The fewest successes of ``trials`` whose :func:`rate_lower_bound` reaches ``target``,
    or ``trials + 1`` when even all of them do not. The bound grows with the successes, so
    a bisection finds it in a few bounds, not one per count."""
    low, high = 0, trials + 1  # the answer lies in [low, high]; trials + 1 means none
    while low < high:
        middle = (low + high) // 2
        if rate_lower_bound(middle, trials, confidence) >= target:
            high = middle
        else:
            low = middle + 1
    return low


def threshold_for_specificity(
    labels: np.ndarray, probs: np.ndarray, target: float, confidence: float | None = None
) -> float:
    """The lowest threshold whose specificity reaches ``target`` (most sensitive such point).

    With a ``confidence``, the specificity's lower confidence bound must reach ``target``
    (:func:`rate_lower_bound`), so that the threshold keeps its promise on new images and
    not only on the images it was chosen on.
    """
    negatives = np.sort(probs[labels == 0])
    # Above the maximum, nothing is called positive: specificity 1.
    candidates = np.append(np.unique(probs), np.nextafter(probs.max(), np.inf))
    needed = fewest_successes(len(negatives), target, confidence)
    # Negatives below each candidate: correctly called negative there.
    fits = candidates[np.searchsorted(negatives, candidates, side="left") >= needed]
    # With too few negatives for the bound to reach the target, call nothing positive.
    return float(fits.min()) if len(fits) else float(candidates[-1])


def threshold_for_sensitivity(
    labels: np.ndarray, probs: np.ndarray, target: float, confidence: float | None = None
) -> float:
    """The highest threshold whose sensitivity reaches ``target`` (most specific such point).

    ``confidence`` as in :func:`threshold_for_specificity`.
    """
    positives = np.sort(probs[labels == 1])
    candidates = np.unique(probs)
    needed = fewest_successes(len(positives), target, confidence)
    # Positives at or above each candidate: found there.
    found = len(positives) - np.searchsorted(positives, candidates, side="left")
    fits = candidates[found >= needed]
    return float(fits.max()) if len(fits) else float(probs.min())


def summary(labels: np.ndarray, probs: np.ndarray, thresholds: dict[str, float]) -> dict:
    """ROC-AUC and PR-AUC with 95% intervals and the operating points at ``thresholds``."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    out: dict = {"n": len(labels), "positives": int(labels.sum())}
    if labels.min() != labels.max():
        out["roc_auc"] = asdict(bootstrap_interval(labels, probs, "roc_auc"))
        out["pr_auc"] = asdict(bootstrap_interval(labels, probs, "pr_auc"))
        out["prevalence"] = float(labels.mean())
    if not labels.all():
        # How far a model's normals drift up on a new source: the shift benchmarks' figure.
        out["median_probability_of_normals"] = float(np.median(probs[labels == 0]))
    out["operating_points"] = {
        name: operating_point(labels, probs, t).as_dict() for name, t in thresholds.items()
    }
    return out


def operating_thresholds(
    labels: np.ndarray, probs: np.ndarray, sources: np.ndarray | None = None
) -> tuple[float, float]:
    """The card's two thresholds, ``(fracture, doubt)``, chosen on ``labels`` / ``probs``.

    ``fracture``: the lowest threshold whose specificity reaches
    :data:`SPECIFICITY_TARGET` with :data:`CONFIDENCE`; ``doubt``: the highest whose
    sensitivity reaches :data:`SENSITIVITY_TARGET` so, never above ``fracture``. Used on
    ``val`` for a model card and on a site's own cases by ``fracture-desktop validate``.

    With ``sources`` (each image's source), ``doubt`` must reach its sensitivity on every
    source's images, not only on their union: it is the lowest of the sources' own
    ``doubt``, because a source whose fractures score lower than another's would otherwise
    lose sensitivity to the mix (efficientnet_lite0-v5, docs/MODEL.md).
    """
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    fracture = threshold_for_specificity(labels, probs, SPECIFICITY_TARGET, CONFIDENCE)
    groups = (
        [np.ones(len(labels), dtype=bool)]
        if sources is None
        else [np.asarray(sources) == source for source in np.unique(sources)]
    )
    doubt = min(
        fracture,
        *(
            threshold_for_sensitivity(labels[g], probs[g], SENSITIVITY_TARGET, CONFIDENCE)
            for g in groups
        ),
    )
    return fracture, doubt


def threshold_rules(split: str, per_source: bool = False) -> dict[str, str]:
    """How :func:`operating_thresholds` chose each threshold on ``split``, for cards and
    validation reports."""
    bound = f"on {split} with {CONFIDENCE:.0%} confidence (one-sided Clopper-Pearson bound)"
    each = " on each source's images" if per_source else ""
    return {
        "fracture": f"lowest threshold with specificity >= {SPECIFICITY_TARGET} {bound}",
        "doubt": f"highest threshold with sensitivity >= {SENSITIVITY_TARGET}{each} {bound}",
    }


def minimum_class_size(target: float = SENSITIVITY_TARGET, confidence: float = CONFIDENCE) -> int:
    """The fewest images of a class for which a rate can reach ``target`` with
    ``confidence`` at all (every one of them right): 29 for 0.90 at 95%."""
    n = 1
    while rate_lower_bound(n, n, confidence) < target:
        n += 1
    return n
