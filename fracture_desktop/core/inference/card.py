"""Model cards (``models/<id>/model_card.json``): what a model is, expects and can be trusted for.

The card idea follows MONAI bundles' metadata; the fields are those of the design notes
(section 5), written by :func:`fracture_desktop.training.export.write_model_dir`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fracture_desktop.core.errors import ModelUnavailableError
from fracture_desktop.core.findings import Thresholds
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.paths import models_root

CARD_FILE = "model_card.json"
#: The model the app uses unless told otherwise.
SHIPPED_MODEL_ID = "efficientnet_lite0-v1"


def default_model_dir() -> Path:
    return models_root() / SHIPPED_MODEL_ID


@dataclass(frozen=True)
class ModelCard:
    """The parts of a card the app acts on; ``raw`` keeps the whole document for display."""

    directory: Path
    id: str
    version: str
    architecture: str
    input_spec: InputSpec
    temperature: float
    thresholds: Thresholds
    weights_file: str
    sha256: str
    intended_use: str
    #: Score each image as the mean logit of it and its left-right mirror
    #: (:class:`~fracture_desktop.core.inference.mirror.MirrorAverage`); the temperature and
    #: thresholds were fitted on those mean logits.
    mirror_average: bool = False
    #: The domain check's file (:mod:`~fracture_desktop.core.inference.domain`) and its
    #: sha256; empty for a card written before the check existed.
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


def load_card(model_dir: Path) -> ModelCard:
    """Read and check ``model_dir/model_card.json``.

    Raises
    ------
    ModelUnavailableError
        The card is missing, unreadable or lacks a required field.
    """
    path = Path(model_dir) / CARD_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        spec = raw["input"]
        return ModelCard(
            directory=Path(model_dir),
            id=raw["id"],
            version=str(raw["version"]),
            architecture=raw["architecture"]["name"],
            input_spec=InputSpec(
                size=int(spec["size"]),
                letterbox=bool(spec["letterbox"]),
                channels=int(spec["channels"]),
            ),
            temperature=float(raw["calibration"]["temperature"]),
            thresholds=Thresholds(
                fracture=float(raw["thresholds"]["fracture"]["value"]),
                doubt=float(raw["thresholds"]["doubt"]["value"]),
            ),
            weights_file=raw["weights"]["file"],
            sha256=raw["weights"]["sha256"],
            intended_use=raw["intended_use"],
            mirror_average=bool(raw["architecture"].get("mirror_average", False)),
            domain_file=raw.get("domain", {}).get("file", ""),
            domain_sha256=raw.get("domain", {}).get("sha256", ""),
            raw=raw,
        )
    except FileNotFoundError as exc:
        raise ModelUnavailableError(f"no model card in {model_dir}", str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelUnavailableError(f"the model card {path} is malformed", repr(exc)) from exc
