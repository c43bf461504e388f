"""Metrics for a binary fracture classifier (scikit-learn), with bootstrap intervals.

Pure functions of labels and probabilities, so they are tested on tiny cases with known
answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import beta
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score


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


SCORES = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}

#: Operating-point rules, applied to calibrated probabilities: each threshold must reach its
#: target with this one-sided confidence, not just on the images it is chosen on, because a
#: threshold that only just reaches 0.90 on val misses it on new images about half the time
#: (fracture_net-v2's `doubt`: sensitivity 0.90 on val, 0.835 on test).
SPECIFICITY_TARGET = 0.90
SENSITIVITY_TARGET = 0.90
CONFIDENCE = 0.95


def operating_point(labels: np.ndarray, probs: np.ndarray, threshold: float) -> OperatingPoint:
    predicted = (probs >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    return OperatingPoint(float(threshold), int(tp), int(fp), int(tn), int(fn))


def bootstrap_interval(
    labels: np.ndarray,
    probs: np.ndarray,
    metric: str,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Point estimate and percentile 95% interval of ``roc_auc`` or ``pr_auc``.

    Resamples images with replacement; resamples holding one class only are skipped.
    """
    score = SCORES[metric]
    return _bootstrap(labels, lambda idx: score(labels[idx], probs[idx]), n_resamples, seed)


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

    return _bootstrap(labels, difference, n_resamples, seed, resampled_difference)


def _bootstrap(
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


def rate_lower_bound(successes: int, trials: int, confidence: float | None) -> float:
    """One-sided lower confidence bound of a binomial rate, or the rate itself.

    The exact bound of Clopper and Pearson (1934): the true rate lies above it with
    probability ``confidence``. ``None`` gives the observed rate ``successes / trials``.
    """
    if confidence is None:
        return successes / trials
    if successes == 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, successes, trials - successes + 1))


def threshold_for_specificity(
    labels: np.ndarray, probs: np.ndarray, target: float, confidence: float | None = None
) -> float:
    """The lowest threshold whose specificity reaches ``target`` (most sensitive such point).

    With a ``confidence``, the specificity's lower confidence bound must reach ``target``
    (:func:`rate_lower_bound`), so that the threshold keeps its promise on new images and
    not only on the images it was chosen on.
    """
    negatives = probs[labels == 0]
    # Above the maximum, nothing is called positive: specificity 1.
    candidates = np.append(np.unique(probs), np.nextafter(probs.max(), np.inf))
    fits = [
        t
        for t in candidates
        if rate_lower_bound(int(np.sum(negatives < t)), len(negatives), confidence) >= target
    ]
    # With too few negatives for the bound to reach the target, call nothing positive.
    return float(min(fits)) if fits else float(candidates[-1])


def threshold_for_sensitivity(
    labels: np.ndarray, probs: np.ndarray, target: float, confidence: float | None = None
) -> float:
    """The highest threshold whose sensitivity reaches ``target`` (most specific such point).

    ``confidence`` as in :func:`threshold_for_specificity`.
    """
    positives = probs[labels == 1]
    candidates = [
        t
        for t in np.unique(probs)
        if rate_lower_bound(int(np.sum(positives >= t)), len(positives), confidence) >= target
    ]
    return float(max(candidates)) if candidates else float(probs.min())


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
