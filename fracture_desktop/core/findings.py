"""From a calibrated probability to the flag a reader sees, using the model card's thresholds."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.imaging.image import SpacingSource

#: What outputs call the thresholds when no site profile is in use.
CARD_THRESHOLDS = "model card"


class Flag(enum.StrEnum):
    FRACTURE = "fracture"
    DOUBT = "doubt"
    NO_FRACTURE = "no fracture"
    #: The image lies outside the domain the model was validated on (its domain check):
    #: its probability is kept, but means nothing.
    OUTSIDE_DOMAIN = "outside domain"
    NOT_ANALYSED = "not analysed"

    @property
    def suspicion_rank(self) -> int:
        """0 for the most suspicious flag: sorting by it puts fractures first."""
        return _RANK[self]

    @property
    def is_flagged(self) -> bool:
        """Fracture or doubt: the images a reader should look at first."""
        return self in (Flag.FRACTURE, Flag.DOUBT)


_RANK = {
    Flag.FRACTURE: 0,
    Flag.DOUBT: 1,
    Flag.NO_FRACTURE: 2,
    Flag.OUTSIDE_DOMAIN: 3,
    Flag.NOT_ANALYSED: 4,
}


@dataclass(frozen=True)
class Thresholds:
    """Operating thresholds on the calibrated probability, chosen on the ``val`` split.

    ``fracture`` is the high-specificity point (specificity >= 0.90); ``doubt`` the
    high-sensitivity point (sensitivity >= 0.90); ``doubt <= fracture``.
    """

    fracture: float
    doubt: float


def classify(probability: float, thresholds: Thresholds, domain_score: float | None = None) -> Flag:
    """Outside domain when ``domain_score`` is above 1 (or not a number); else fracture at or
    above ``thresholds.fracture``, doubt at or above ``doubt``, else no fracture."""
    if domain_score is not None and not domain_score <= 1.0:
        return Flag.OUTSIDE_DOMAIN
    if probability >= thresholds.fracture:
        return Flag.FRACTURE
    if probability >= thresholds.doubt:
        return Flag.DOUBT
    return Flag.NO_FRACTURE


@dataclass(frozen=True)
class Finding:
    """The model's result for one image (or why there is none).

    ``spacing_source`` and ``warnings`` are what decoding the image told (calibration source,
    decoder complaints), kept so that a report can reuse the finding without decoding again.
    ``boxes`` are the localiser's suspected fractures in the stored image's pixels (empty
    without a localiser).
    """

    path: Path
    identity: str
    flag: Flag
    probability: float | None = None
    error: str = ""
    spacing_source: SpacingSource | None = None
    warnings: tuple[str, ...] = ()
    boxes: tuple[Box, ...] = ()
    #: The domain check's score (above 1: outside); None when the model has no check.
    domain_score: float | None = None

    @property
    def drawn_boxes(self) -> tuple[Box, ...]:
        """The boxes a reader is shown: those of a flagged image only (a box on an image the
        model calls normal, or one outside the model's domain, would contradict its flag)."""
        return self.boxes if self.flag.is_flagged else ()
