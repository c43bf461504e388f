"""Fit a model's domain check (:mod:`fracture_desktop.core.inference.domain`) and store it.

The Gaussian of each layer's features is fitted on ``train``, the scales and threshold on
``val``, with scikit-learn's Ledoit-Wolf estimator; the app reads only the arrays. Called by
``export-model`` for every new model and by ``fit-domain`` for a model folder that has none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from torch import nn

from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.inference.card import CARD_FILE, ModelCard, load_card
from fracture_desktop.core.inference.domain import (
    DOMAIN_FILE,
    LAYERS,
    VAL_PASS_RATE,
    DomainCheck,
    raw_scores,
)
from fracture_desktop.core.inference.taps import features_of, tapped
from fracture_desktop.training.dataset import cached_inputs, load_sources
from fracture_desktop.training.export import model_readme
from fracture_desktop.training.scoring import batches

THRESHOLD_RULE = (
    f"Mahalanobis distance (Ledoit-Wolf covariance, fitted on train) of each layer's features, "
    f"divided by its val median; the larger of the layers divided by the value that "
    f"{VAL_PASS_RATE:.0%} of val images stay under; above 1 is outside the domain"
)


def layer_features(
    model: nn.Module, inputs: np.ndarray, channels: int, batch_size: int = 64
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-layer features (each (n, d)) and logits (n,) of cached inputs (n, size, size)."""
    model.eval()
    logits = []
    with tapped(model, LAYERS) as captured, torch.inference_mode():
        for x in batches(inputs, channels, batch_size):
            logits.append(model(x).float().numpy())
    return features_of(model, captured), np.concatenate(logits)


def fit_domain_check(
    model: nn.Module,
    train_inputs: np.ndarray,
    val_inputs: np.ndarray,
    channels: int,
    temperature: float,
) -> DomainCheck:
    """Fit the check on ``train_inputs``, set its scales and threshold on ``val_inputs``.

    Parameters
    ----------
    model : nn.Module
        The network as the app runs it (frozen; mirror-averaged if the card says so).
    train_inputs, val_inputs : ndarray
        Model inputs (n, size, size), as :func:`~fracture_desktop.training.dataset.build_cache`
        returns them.
    channels : int
        Input channels of the network.
    temperature : float
        The card's calibration, so that the stored ``val`` probabilities are the app's.
    """
    train_features, _ = layer_features(model, train_inputs, channels)
    means, precisions = [], []
    for x in train_features:
        fitted = LedoitWolf().fit(x.astype(np.float64))
        means.append(fitted.location_.astype(np.float32))
        precisions.append(fitted.precision_.astype(np.float32))
    partial = DomainCheck(
        layers=LAYERS,
        means=tuple(means),
        precisions=tuple(precisions),
        scales=np.ones(len(LAYERS)),
        threshold=1.0,
        val_scores=np.zeros(0),
        val_probabilities=np.zeros(0),
    )
    val_features, val_logits = layer_features(model, val_inputs, channels)
    distances = partial.distances(val_features)
    scales = np.median(distances, axis=0)
    raw = raw_scores(distances, scales)
    threshold = float(np.quantile(raw, VAL_PASS_RATE))
    return DomainCheck(
        layers=LAYERS,
        means=tuple(means),
        precisions=tuple(precisions),
        scales=scales,
        threshold=threshold,
        val_scores=raw / threshold,
        val_probabilities=1.0 / (1.0 + np.exp(-val_logits.astype(np.float64) / temperature)),
    )


def store_domain_check(
    check: DomainCheck, card: ModelCard, n_train: int, sources: str
) -> ModelCard:
    """Write ``domain.npz`` into the card's folder and record it (file, sha256, the sources
    it was fitted on) in the card."""
    path = card.directory / DOMAIN_FILE
    check.save(path)
    document: dict[str, Any] = json.loads((card.directory / CARD_FILE).read_text("utf-8"))
    document["domain"] = {
        "file": DOMAIN_FILE,
        "sha256": file_sha256(path),
        "layers": list(check.layers),
        "fitted_on": f"train ({n_train} images)",
        "sources": sources,
        "threshold_split": f"val ({len(check.val_scores)} images)",
        "rule": THRESHOLD_RULE,
        "val_pass_rate": float(np.mean(check.val_scores <= 1.0)),
    }
    (card.directory / CARD_FILE).write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    (card.directory / "README.md").write_text(model_readme(document), encoding="utf-8")
    return load_card(card.directory)


def fit_model_dir(model_dir: Path, data: list[Path], cache_dir: Path) -> ModelCard:
    """Fit and store the domain check of the model in ``model_dir`` on the train splits of
    the sources in ``data`` (their val splits set its threshold), so that radiographs like
    any of them lie inside.

    Needs no retraining: the model's weights (checked against their card) are only run.
    Returns the updated card.
    """
    from fracture_desktop.core.inference.engine import InferenceEngine

    engine = InferenceEngine.load(Path(model_dir), "cpu", domain=False)
    spec = engine.card.input_spec
    samples, _ = load_sources(data)
    train = [s for s in samples if s.split == "train"]
    val = [s for s in samples if s.split == "val"]
    check = fit_domain_check(
        engine.model,
        cached_inputs(train, spec, cache_dir),
        cached_inputs(val, spec, cache_dir),
        spec.channels,
        engine.card.temperature,
    )
    sources = " + ".join(dict.fromkeys(s.source for s in train))
    return store_domain_check(check, engine.card, len(train), sources)
