"""Write a model folder the app can load: ``weights.pt`` + ``model_card.json``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fracture_desktop.core.inference.card import CARD_FILE, ModelCard, file_sha256, load_card
from fracture_desktop.core.inference.models import ARCHITECTURES

WEIGHTS_FILE = "weights.pt"
INTENDED_USE = (
    "Research and reading aid: flags radiographs that may show a fracture so they are read "
    "first. Not a diagnosis; every image must still be read by a qualified person."
)


def write_model_dir(
    model: nn.Module, arch: str, directory: Path, card: dict[str, Any]
) -> ModelCard:
    """Save ``model``'s state_dict and a card completed with input, weights and sha256.

    ``card`` supplies the run-specific parts (id, version, thresholds, calibration, metrics,
    training, ...); the parts that follow from the architecture and the file are filled here
    so they cannot disagree with the weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS_FILE
    torch.save(model.state_dict(), weights)
    spec = ARCHITECTURES[arch].input_spec
    document = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "intended_use": INTENDED_USE,
        **card,
        "architecture": {
            "name": arch,
            "parameters": sum(p.numel() for p in model.parameters()),
            **card.get("architecture", {}),
        },
        "input": {
            "size": spec.size,
            "letterbox": spec.letterbox,
            "channels": spec.channels,
            "function": "fracture_desktop.core.imaging.model_input.model_input",
            "rules": "default window (file's first, else 0.5-99.5 percentile auto), bone bright "
            "(MONOCHROME1 / INVERSE inverted), colour to BT.601 luminance, values in [0, 1], "
            "bilinear antialiased resize, black padding when letterboxed",
        },
        "output": "logit; probability of fracture = sigmoid(logit / temperature)",
        "weights": {"file": WEIGHTS_FILE, "sha256": file_sha256(weights)},
    }
    (directory / CARD_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return load_card(directory)


def untrained_model_dir(directory: Path, arch: str = "fracture_net", seed: int = 0) -> ModelCard:
    """A loadable model with random weights: for tests and smoke runs, never for reading."""
    torch.manual_seed(seed)
    card = {
        "id": f"{arch}-untrained",
        "version": "0.0.0",
        "calibration": {"temperature": 1.0},
        "thresholds": {
            "fracture": {"value": 0.6, "rule": "fixed for tests"},
            "doubt": {"value": 0.4, "rule": "fixed for tests"},
        },
        "metrics": {},
    }
    return write_model_dir(ARCHITECTURES[arch](), arch, directory, card)
