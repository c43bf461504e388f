"""The folder shift warning: does a folder's distribution depart from the ``val`` images'?

One image outside the domain is flagged on its own (:mod:`fracture_desktop.core.inference.domain`).
A whole folder can drift without any single image crossing that line: another scanner, other
patients, another processing chain. Its probabilities then move as a block (an external set of
wrist radiographs scored a median 0.6 for normal images, against 0.05-0.1 on FracAtlas), and
the card's thresholds no longer mean what they say. The check compares the folder's domain
scores with those of ``val`` (stored with the domain check) by a two-sample
Kolmogorov-Smirnov test, and the share of images outside the domain with the 5% that ``val``
lets out by a one-sided binomial test.

Each test must be significant *and* large: a folder of FracAtlas test images of one body
region or of one class departs from ``val``'s mix significantly yet modestly (for the
shipped model, domain-score KS distance up to 0.50 for 51 multi-region images, 6 of the 91
fractured ones outside; ``docs/MODEL.md``), while re-acquired images depart by 0.63 to 1.
The probabilities are compared too and reported, but do not warn on their own: a folder of
fractures alone departs from ``val``'s probabilities as much as a shifted one (KS 0.55), and
only the images can tell the two apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fracture_desktop.core.findings import Finding
from fracture_desktop.core.metrics import binomial_upper_tail

#: Fewer images than this say too little about a distribution: no test, no warning.
MIN_FOLDER_SIZE = 30
#: Each test's level.
ALPHA = 0.001
#: Smallest domain-score Kolmogorov-Smirnov distance that warns.
MIN_SCORE_DISTANCE = 0.6
#: Smallest share of images outside the domain that warns.
MIN_OUTSIDE_SHARE = 0.15
#: Share of ``val`` images outside the domain, by the threshold's construction.
VAL_OUTSIDE_RATE = 0.05
ADVICE = (
    "The model's thresholds were set on FracAtlas images; before relying on its flags "
    "here, validate it on local cases with known outcomes (fracture-desktop validate)."
)


@dataclass(frozen=True)
class FolderShift:
    """The outcome of :func:`folder_shift`.

    Attributes
    ----------
    n_images : int
        Images scored (those with a probability and a domain score).
    n_outside_domain : int
        Of those, images outside the domain.
    tested : bool
        Whether the folder was large enough (:data:`MIN_FOLDER_SIZE`) to test.
    warning : bool
        Whether the folder departs from ``val`` (see the module notes).
    statistic : float
        The Kolmogorov-Smirnov distance of the folder's domain scores from ``val``'s: 0 for
        identical distributions, 1 for disjoint ones.
    p_value : float
        Its p-value.
    probability_statistic, probability_p_value : float
        The same for the probabilities (reported, not warned on).
    reasons : tuple of str
        One line per test that fired.
    """

    n_images: int
    n_outside_domain: int
    tested: bool
    warning: bool
    statistic: float
    p_value: float
    probability_statistic: float = 0.0
    probability_p_value: float = 1.0
    reasons: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """What the reader sees: empty without a warning."""
        if not self.warning:
            return ""
        return (
            f"These {self.n_images} images differ from those the model was validated on "
            f"({'; '.join(self.reasons)}). {ADVICE}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "n_scored": self.n_images,
            "n_outside_domain": self.n_outside_domain,
            "shift_tested": self.tested,
            "shift_warning": self.warning,
            "shift_statistic": self.statistic,
            "shift_p_value": self.p_value,
            "shift_probability_statistic": self.probability_statistic,
            "shift_probability_p_value": self.probability_p_value,
            "shift_message": self.message,
        }


def kolmogorov_smirnov(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov distance and its asymptotic two-sided p-value.

    The p-value uses the Kolmogorov distribution with Stephens' (1970) small-sample
    correction, ``lambda = (sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) D`` with
    ``ne = n m / (n + m)``, as in Numerical Recipes (section 14.3).
    """
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    values = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, values, side="right") / len(a)
    cdf_b = np.searchsorted(b, values, side="right") / len(b)
    distance = float(np.max(np.abs(cdf_a - cdf_b)))
    ne = len(a) * len(b) / (len(a) + len(b))
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * distance
    if lam < 0.2:  # the series converges slowly there; the p-value is 1 to many digits
        return distance, 1.0
    k = np.arange(1, 101)
    p = float(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * (k * lam) ** 2)))
    return distance, min(max(p, 0.0), 1.0)


def folder_shift(
    domain_scores: Sequence[float],
    probabilities: Sequence[float],
    val_scores: np.ndarray,
    val_probabilities: np.ndarray,
) -> FolderShift:
    """Compare a folder's domain scores and probabilities with ``val``'s.

    Parameters
    ----------
    domain_scores, probabilities : sequence of float
        One per scored image of the folder, in the same order.
    val_scores, val_probabilities : ndarray
        The reference, stored with the model's domain check.
    """
    scores = np.asarray(domain_scores, float)
    probs = np.asarray(probabilities, float)
    n = len(scores)
    outside = int(np.sum(~(scores <= 1.0)))
    if n < MIN_FOLDER_SIZE:
        return FolderShift(n, outside, False, False, 0.0, 1.0)
    d_score, p_score = kolmogorov_smirnov(scores, val_scores)
    d_prob, p_prob = kolmogorov_smirnov(probs, val_probabilities)
    p_outside = binomial_upper_tail(outside, n, VAL_OUTSIDE_RATE)
    reasons = []
    if p_outside < ALPHA and outside >= MIN_OUTSIDE_SHARE * n:
        reasons.append(f"{outside} of {n} outside the domain, where 5% is expected")
    if p_score < ALPHA and d_score >= MIN_SCORE_DISTANCE:
        reasons.append(f"their domain scores depart from validation's (KS distance {d_score:.2f})")
    if reasons and p_prob < ALPHA:
        reasons.append(f"so do their probabilities (KS distance {d_prob:.2f})")
    return FolderShift(
        n_images=n,
        n_outside_domain=outside,
        tested=True,
        warning=bool(reasons),
        statistic=d_score,
        p_value=p_score,
        probability_statistic=d_prob,
        probability_p_value=p_prob,
        reasons=tuple(reasons),
    )


def findings_shift(
    findings: Iterable[Finding], val_scores: np.ndarray, val_probabilities: np.ndarray
) -> FolderShift | None:
    """:func:`folder_shift` of the scored findings; None when none has a domain score (a
    model without a domain check)."""
    scored = [f for f in findings if f.probability is not None and f.domain_score is not None]
    if not scored:
        return None
    return folder_shift(
        [float(f.domain_score) for f in scored if f.domain_score is not None],
        [float(f.probability) for f in scored if f.probability is not None],
        val_scores,
        val_probabilities,
    )
