"""The plain data a report is made from: who made it, with which model, about which images.

Everything here is immutable and free of Qt, torch and reportlab, so the viewer, the headless
``scan`` command and tests build the same objects and hand them to the writers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import fracture_desktop
from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.findings import CARD_THRESHOLDS, Finding, Flag, Thresholds
from fracture_desktop.core.imaging.image import SpacingSource
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord
from fracture_desktop.core.shift import FolderShift

if TYPE_CHECKING:  # the card module is light, but only its type is needed here
    from fracture_desktop.core.inference.card import ModelCard

#: Characters of the weights' sha256 printed on reports: enough to tell models apart.
SHA_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class ModelIdentity:
    """What a report says about the model that produced its findings."""

    id: str
    version: str
    sha256_prefix: str
    thresholds: Thresholds
    intended_use: str
    #: Which thresholds made the flags: the model card's, or a named site profile's.
    thresholds_source: str = CARD_THRESHOLDS
    #: The weights' whole sha256 (DICOM results name it); "" where only the prefix is known.
    sha256: str = ""
    #: The card's sha256 (the model is the weights and the card together).
    card_sha256: str = ""
    #: ``shipped``, ``modified`` (a shipped id with another card) or ``not shipped``.
    card_status: str = ""
    #: ``on``, or ``no domain check`` for a model without one.
    domain_check: str = "on"

    @classmethod
    def from_card(
        cls,
        card: ModelCard,
        thresholds: Thresholds | None = None,
        thresholds_source: str = CARD_THRESHOLDS,
    ) -> ModelIdentity:
        """The card's identity, with the thresholds in use when they are not the card's."""
        return cls(
            id=card.id,
            version=card.version,
            sha256_prefix=card.sha256[:SHA_PREFIX_LENGTH],
            thresholds=thresholds or card.thresholds,
            intended_use=card.intended_use,
            thresholds_source=thresholds_source,
            sha256=card.sha256,
            card_sha256=card.card_sha256,
            card_status=card.card_status,
            domain_check=card.domain_check,
        )

    @property
    def label(self) -> str:
        """``id version (sha256 prefix)``, as printed in headers and footers."""
        return f"{self.id} {self.version} ({self.sha256_prefix})"

    @property
    def card_text(self) -> str:
        """The card in a few words: ``card 1a2b3c4d5e6f (shipped)``; a modified card and a
        missing domain check said loudly, as every output must."""
        prefix = self.card_sha256[:SHA_PREFIX_LENGTH]
        text = f"card {prefix} ({self.card_status})"
        if self.card_status == "modified":
            text = f"card {prefix} MODIFIED: not the card {self.id} was released with"
        if self.domain_check != "on":
            text += f"; {self.domain_check.upper()}"
        return text


@dataclass(frozen=True)
class ReportContext:
    """Facts printed once per report.

    Attributes
    ----------
    model : ModelIdentity
        The model whose findings the report lists.
    source : str
        What was analysed (a folder path, a study description), shown in the header.
    created : datetime
        When the report was made; timezone-aware so the printed time is unambiguous.
    app_version : str
        ``fracture_desktop.__version__`` unless a test pins it.
    shift : FolderShift or None
        The folder shift test of these images; None when the model has no domain check.
    runs_on : str
        The device and the engine that ran the model (``"cpu, ONNX Runtime 1.22.0"``);
        empty when not known.
    reader : str
        The reader who made the report (the viewer's setting); empty when not known.
    """

    model: ModelIdentity
    source: str
    created: datetime = field(default_factory=lambda: datetime.now().astimezone())
    app_version: str = fracture_desktop.__version__
    shift: FolderShift | None = None
    runs_on: str = ""
    reader: str = ""


@dataclass(frozen=True)
class KeyImage:
    """A flagged image as the reader saw it, small enough to keep for a whole folder.

    Both pictures are JPEG bytes of the same size (longest side at most 512 px): about
    50 kB each instead of megabytes of decoded pixels, and a PDF embeds them unchanged.
    Make one with :func:`fracture_desktop.core.report.imagery.make_key_image`.

    Attributes
    ----------
    display_jpeg : bytes
        The image in its default window, bone bright (what the viewer shows first).
    overlay_jpeg : bytes or None
        The same picture with the heatmap blended over it and the localiser's boxes drawn
        on it; None when the model gave neither.
    width, height : int
        Pixel size of both pictures.
    window_label : str
        How the display was windowed, e.g. ``"W 400 L 40 (BONE)"``.
    overlay_caption : str
        What the overlay picture shows, for its caption.
    window_values : str
        The same without the file's free-text explanation, e.g. ``"W 400 L 40"``: what a
        de-identified report prints.
    """

    display_jpeg: bytes = field(repr=False)
    overlay_jpeg: bytes | None = field(repr=False)
    width: int
    height: int
    window_label: str = ""
    overlay_caption: str = ""
    window_values: str = ""


@dataclass(frozen=True)
class ReportEntry:
    """One row of a report: an image (or a file that should have been one) and its result.

    Attributes
    ----------
    path : Path
        The file.
    finding : Finding
        The model's result; ``Flag.NOT_ANALYSED`` with ``error`` set when there is none.
    record : ImageRecord or None
        Header facts; None for files the folder scan could not read at all.
    decision : Decision or None
        The reader's own call about the image (or, from earlier versions, their confirm /
        reject of the flag), if any.
    spacing_source : SpacingSource or None
        Where the pixel spacing came from; None when uncalibrated or never loaded.
    warnings : tuple of str
        Problems that did not stop analysis (e.g. "JPEG data ends early").
    key_image : KeyImage or None
        Kept for flagged images only, so memory stays small for large folders.
    reader : str
        Who made :attr:`decision` (empty when not recorded).
    """

    path: Path
    finding: Finding
    record: ImageRecord | None = None
    decision: Decision | None = None
    spacing_source: SpacingSource | None = None
    warnings: tuple[str, ...] = ()
    key_image: KeyImage | None = None
    reader: str = ""

    @classmethod
    def from_problem(cls, problem: FileProblem) -> ReportEntry:
        """A row for a file the scan found but could not read as an image."""
        finding = Finding(problem.path, "", Flag.NOT_ANALYSED, error=problem.reason)
        return cls(path=problem.path, finding=finding)

    @property
    def flag(self) -> Flag:
        return self.finding.flag

    @property
    def is_flagged(self) -> bool:
        """Fracture or doubt: the images a reader should look at first."""
        return self.finding.flag.is_flagged


def flag_counts(entries: Iterable[ReportEntry]) -> dict[Flag, int]:
    """Entries per flag, every flag present (zero included), in :class:`Flag` order."""
    counts = Counter(entry.flag for entry in entries)
    return {flag: counts.get(flag, 0) for flag in Flag}
