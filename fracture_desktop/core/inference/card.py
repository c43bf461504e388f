"""Model cards (``models/<id>/model_card.json``): what a model is, expects and can be trusted for.

The card idea follows MONAI bundles' metadata. :class:`ModelCard` owns the schema: it reads,
checks and writes the card; :func:`fracture_desktop.training.export.write_model_dir` fills
it for a new model, the engine and the viewer's dialogs read it. See docs/MODEL.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.errors import ModelUnavailableError
from fracture_desktop.core.findings import Thresholds
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.shipped import (
    card_digest,
    card_status,
    released_with_domain_check,
)
from fracture_desktop.core.paths import models_root

CARD_FILE = "model_card.json"
#: The model the app uses unless told otherwise.
SHIPPED_MODEL_ID = "efficientnet_lite0-v4"
#: Names the model folder for the viewer, ``scan`` and ``--self-test`` alike.
MODEL_DIR_ENV = "FRACTURE_DESKTOP_MODEL_DIR"


def shipped_model_dir() -> Path:
    """The folder of the model shipped with the app."""
    return models_root() / SHIPPED_MODEL_ID


def default_model_dir() -> Path:
    """The model folder used when none is named: ``$FRACTURE_DESKTOP_MODEL_DIR`` when set,
    else the shipped model."""
    value = os.environ.get(MODEL_DIR_ENV)
    return Path(value) if value else shipped_model_dir()


#: The one intended-use statement: written into new cards, shown by the viewer and reports.
INTENDED_USE = (
    "Research and reading aid, not a diagnosis: it flags radiographs that may show a fracture "
    "so they are read first; every image must still be read by a qualified person."
)
#: Its first clause, where there is room for a few words only (status bar, report footer).
INTENDED_USE_SHORT = INTENDED_USE.split(":")[0]
#: How :func:`~fracture_desktop.core.imaging.model_input.model_input` prepares an image.
INPUT_RULES = (
    "default VOI (first file window, else file VOI LUT, else 0.5-99.5 percentile auto window), "
    "bone bright (MONOCHROME1 / INVERSE inverted), colour to BT.601 luminance, values in "
    "[0, 1], bilinear antialiased resize, black padding when letterboxed"
)
_SHA256_HEX = 64
#: Calibration temperatures below this range make every probability 0 or 1; above it,
#: every probability 0.5. Our released models lie between 1.1 and 2; the upper end leaves
#: room for the near-constant models of short smoke runs, which calibrate high.
TEMPERATURE_RANGE = (0.05, 1000.0)
#: What every output says for a model without a domain check.
NO_DOMAIN_CHECK = "no domain check"


def _malformed(path: Path, why: str) -> ModelUnavailableError:
    return ModelUnavailableError(f"the model card {path} is malformed", why)


@dataclass(frozen=True)
class LocaliserSettings:
    """How the app reads boxes off a localising model's objectness map (chosen on ``val``;
    see :func:`~fracture_desktop.core.inference.localiser.decode_boxes`)."""

    threshold: float
    shrink: float = 1.0
    max_boxes: int = 3
    #: Score each box as its peak times the image's calibrated probability, so that boxes
    #: on images the classifier clears rank below those on images it suspects (chosen on
    #: ``val`` where it finds more fractures at one false box per image).
    by_probability: bool = False


@dataclass(frozen=True)
class ModelCard:
    """A model card: the one owner of ``model_card.json``'s schema.

    It reads (:meth:`from_document`, :func:`load_card`), checks and writes (:meth:`document`,
    :func:`write_card`) the keys the app acts on; the rest of the document (training,
    metrics, limitations, ...) is kept as it is in :attr:`raw` for display.

    Attributes
    ----------
    directory : Path
        The model folder.
    id, version : str
        E.g. ``efficientnet_lite0-v1``, ``1.0.0``.
    architecture : str
        A key of :data:`~fracture_desktop.core.inference.models.ARCHITECTURES`.
    input_spec : InputSpec
        Input size, letterboxing and channels.
    temperature : float
        Calibration: probability = sigmoid(logit / temperature), > 0.
    thresholds : Thresholds
        Probabilities at which an image is flagged; 0 <= doubt <= fracture <= 1.
    weights_file, sha256 : str
        The weights beside the card and their sha256, checked before loading.
    intended_use : str
        What the model may be used for.
    mirror_average : bool
        Score each image as the mean logit of it and its left-right mirror
        (:class:`~fracture_desktop.core.inference.mirror.MirrorAverage`); the temperature and
        thresholds were fitted on those mean logits.
    localiser : LocaliserSettings or None
        How boxes are read off the objectness map of a network with a localisation head.
    domain_file, domain_sha256 : str
        The domain check's file (:mod:`~fracture_desktop.core.inference.domain`) and its
        sha256; empty for a card written before the check existed.
    raw : dict
        The whole document as read.

    The model's identity is the weights and the card together: :attr:`card_sha256` and
    :attr:`card_status` go on every report beside the weights' sha256.
    """

    directory: Path
    id: str
    version: str
    architecture: str
    input_spec: InputSpec
    temperature: float
    thresholds: Thresholds
    weights_file: str
    sha256: str
    intended_use: str = INTENDED_USE
    mirror_average: bool = False
    localiser: LocaliserSettings | None = None
    domain_file: str = ""
    domain_sha256: str = ""
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def weights_path(self) -> Path:
        return self.directory / self.weights_file

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]

    @property
    def label(self) -> str:
        """``id version (sha256 prefix)``, the identity printed on every report."""
        return f"{self.id} {self.version} ({self.short_sha})"

    @property
    def card_sha256(self) -> str:
        """The sha256 of the card's content (:func:`~.shipped.card_digest` of :attr:`document`)."""
        return card_digest(self.document())

    @property
    def card_status(self) -> str:
        """``shipped``, ``modified`` (a shipped id with another card) or ``not shipped``."""
        return card_status(self.id, self.card_sha256)

    @property
    def domain_check(self) -> str:
        """``on``, or :data:`NO_DOMAIN_CHECK` for a model without one."""
        return "on" if self.domain_file else NO_DOMAIN_CHECK

    @property
    def metrics(self) -> dict[str, Any]:
        """The ``metrics`` section (test split results), empty when the card has none."""
        return dict(self.raw.get("metrics") or {})

    def check(self) -> None:
        """Validate the values the app acts on.

        Raises
        ------
        ModelUnavailableError
            A value is out of range (the card would make the app give wrong flags).
        """
        path, t = self.directory / CARD_FILE, self.thresholds
        # At 0 every image is flagged, at 1 none: neither is a threshold.
        if not (0.0 < t.doubt <= t.fracture < 1.0):
            raise _malformed(path, f"thresholds must satisfy 0 < doubt <= fracture < 1: {t}")
        low, high = TEMPERATURE_RANGE
        if not low <= self.temperature <= high:
            raise _malformed(
                path, f"temperature must lie in [{low}, {high}], not {self.temperature}"
            )
        if not self.domain_file and released_with_domain_check(self.id):
            raise _malformed(
                path, f"{self.id} was released with a domain check; the card has no domain section"
            )
        spec = self.input_spec
        if spec.size < 1 or spec.channels not in (1, 3):
            raise _malformed(path, f"input must be >= 1 px and 1 or 3 channels: {spec}")
        if len(self.sha256) != _SHA256_HEX or not all(c in "0123456789abcdef" for c in self.sha256):
            raise _malformed(path, f"weights sha256 is not 64 hex digits: {self.sha256!r}")
        if not self.id or not self.version or not self.weights_file:
            raise _malformed(path, "id, version and weights file must not be empty")
        box = self.localiser
        if box is not None and not (
            0.0 <= box.threshold <= 1.0 and 0.0 < box.shrink <= 1.0 and box.max_boxes >= 1
        ):
            raise _malformed(
                path,
                f"localiser needs threshold in [0, 1], shrink in (0, 1], at least one box: {box}",
            )

    @classmethod
    def from_document(cls, raw: dict[str, Any], directory: Path) -> ModelCard:
        """Read and check a card document (the parsed JSON) of the model in ``directory``.

        Raises
        ------
        ModelUnavailableError
            A required field is missing, of the wrong type or out of range.
        """
        try:
            spec, thresholds = raw["input"], raw["thresholds"]
            if spec.get("intensity", "window") != "window":
                # This app's input ends at the default window; no model used another step.
                raise ValueError(f"input step {spec['intensity']!r} is not the window")
            card = cls(
                directory=Path(directory),
                id=str(raw["id"]),
                version=str(raw["version"]),
                architecture=str(raw["architecture"]["name"]),
                input_spec=InputSpec(
                    size=int(spec["size"]),
                    letterbox=bool(spec["letterbox"]),
                    channels=int(spec["channels"]),
                ),
                temperature=float(raw["calibration"]["temperature"]),
                thresholds=Thresholds(
                    fracture=float(thresholds["fracture"]["value"]),
                    doubt=float(thresholds["doubt"]["value"]),
                ),
                weights_file=str(raw["weights"]["file"]),
                sha256=str(raw["weights"]["sha256"]),
                intended_use=str(raw["intended_use"]),
                mirror_average=bool(raw["architecture"].get("mirror_average", False)),
                localiser=localiser_settings(raw.get("localiser")),
                domain_file=str(raw.get("domain", {}).get("file", "")),
                domain_sha256=str(raw.get("domain", {}).get("sha256", "")),
                raw=raw,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed(Path(directory) / CARD_FILE, repr(exc)) from exc
        card.check()
        return card

    def document(self) -> dict[str, Any]:
        """The card as a JSON document: :attr:`raw` with the typed fields written over it."""
        doc = dict(self.raw)
        spec = self.input_spec
        calibration = {**doc.get("calibration", {}), "temperature": self.temperature}
        thresholds = doc.get("thresholds", {})
        architecture = {**doc.get("architecture", {}), "name": self.architecture}
        if self.mirror_average or "mirror_average" in architecture:  # optional, default off
            architecture["mirror_average"] = self.mirror_average
        doc.update(
            id=self.id,
            version=self.version,
            intended_use=self.intended_use,
            architecture=architecture,
            input={
                **doc.get("input", {}),
                "size": spec.size,
                "letterbox": spec.letterbox,
                "channels": spec.channels,
            },
            output=("mean logit of the image and its left-right mirror" if self.mirror_average
                    else "logit") + "; probability of fracture = sigmoid(logit / temperature)",
            calibration=calibration,
            thresholds={
                name: {**thresholds.get(name, {}), "value": value}
                for name, value in (("fracture", self.thresholds.fracture),
                                    ("doubt", self.thresholds.doubt))
            },
            weights={"file": self.weights_file, "sha256": self.sha256},
        )  # fmt: skip
        if self.localiser is not None:
            doc["localiser"] = {**doc.get("localiser", {}), **asdict(self.localiser)}
        if self.domain_file:
            doc["domain"] = {
                **doc.get("domain", {}),
                "file": self.domain_file,
                "sha256": self.domain_sha256,
            }
        return doc


def localiser_settings(section: dict[str, Any] | None) -> LocaliserSettings | None:
    """The card's ``localiser`` section as settings; None when the model has none."""
    if section is None:
        return None
    return LocaliserSettings(
        threshold=float(section["threshold"]),
        shrink=float(section.get("shrink", 1.0)),
        max_boxes=int(section.get("max_boxes", 3)),
        by_probability=bool(section.get("by_probability", False)),
    )


def load_card(model_dir: Path) -> ModelCard:
    """Read and check ``model_dir/model_card.json``.

    Raises
    ------
    ModelUnavailableError
        The card is missing, unreadable, lacks a required field or holds an impossible value.
    """
    path = Path(model_dir) / CARD_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelUnavailableError(f"no model card in {model_dir}", str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise _malformed(path, repr(exc)) from exc
    if not isinstance(raw, dict):
        raise _malformed(path, "the card is not a JSON object")
    return ModelCard.from_document(raw, Path(model_dir))


def write_card(card: ModelCard) -> Path:
    """Check ``card`` and write it to ``card.directory/model_card.json`` atomically."""
    card.check()
    path = card.directory / CARD_FILE
    text = json.dumps(card.document(), indent=2) + "\n"
    with atomic_write(path, overwrite=True) as f:
        f.write(text.encode("utf-8"))
    return path


# -- the ONNX graph (the ONNX Runtime engine's network) --------------------------------------

#: The graph ``export-onnx`` writes beside the weights, and the opset it is written in.
ONNX_FILE = "model.onnx"
ONNX_OPSET = 17


def onnx_graph(card: ModelCard) -> tuple[Path, str] | None:
    """The card's ONNX graph (``onnx`` section): its path and the sha256 the file must have;
    None when the model folder has none (the app then runs the network with torch).

    Raises
    ------
    ModelUnavailableError
        The section is malformed.
    """
    section = card.raw.get("onnx")
    if section is None:
        return None
    path = card.directory / CARD_FILE
    try:
        file, sha256 = str(section["file"]), str(section["sha256"])
    except (KeyError, TypeError) as exc:
        raise _malformed(path, f"onnx section needs file and sha256: {exc!r}") from exc
    if len(sha256) != _SHA256_HEX or not all(c in "0123456789abcdef" for c in sha256):
        raise _malformed(path, f"onnx sha256 is not 64 hex digits: {sha256!r}")
    if not file or Path(file).name != file:
        raise _malformed(path, f"onnx file must be a file name in the model folder: {file!r}")
    return card.directory / file, sha256


def missing_files(card: ModelCard) -> str:
    """Why ``card``'s folder cannot be run, or ``""``: it needs its weights (torch) or its
    ONNX graph (ONNX Runtime), and the desktop build ships the graph alone. The files'
    sha256 are checked when an engine loads them.

    Raises
    ------
    ModelUnavailableError
        The card's ``onnx`` section is malformed.
    """
    graph = onnx_graph(card)
    if card.weights_path.is_file() or (graph is not None and graph[0].is_file()):
        return ""
    return "weights missing"


def with_onnx_graph(card: ModelCard, file: str, sha256: str) -> ModelCard:
    """``card`` naming the ONNX graph ``file`` (in its folder) and its sha256; write it with
    :func:`write_card`."""
    section = {"file": file, "sha256": sha256, "opset": ONNX_OPSET}
    updated = replace(card, raw={**card.raw, "onnx": section})
    onnx_graph(updated)  # the same checks as on reading
    return updated
