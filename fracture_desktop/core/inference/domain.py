"""The domain check: how far an image lies from the images a model was trained on.

A model is validated for the images it learnt from (FracAtlas radiographs); on anything else,
a noise picture, a CT slice, a photograph, its probability means nothing, yet it still
returns one. The check scores each image by the Mahalanobis distance of the network's own
features from those of the ``train`` images (Lee et al. 2018, "A simple unified framework for
detecting out-of-distribution samples"), with a Ledoit-Wolf shrunk covariance so that 2,425
images can estimate a 1,280-value covariance.

Three layers are read: the pooled embedding that the classifier turns into the logit, the
channel means of the Grad-CAM layer, and those of an early layer at 1/4 of the input size,
which still sees texture and contrast (with the first two alone, FractureNet let 14 of 98
non-radiographs through, blank frames and CT slices; with the early layer 1). Each distance
is divided by its median on ``val``; the largest, divided by the threshold that about 95% of
``val`` images stay under, is the **domain score**: above 1 the image is outside the
domain. The file (``domain.npz``) also keeps ``val``'s scores and probabilities, which the
folder shift test (:mod:`fracture_desktop.core.shift`) compares a folder against.

This module needs numpy only (the viewer reads ``val``'s scores without torch); the layers
are read by :mod:`fracture_desktop.core.inference.taps`, and fitting lives in
:mod:`fracture_desktop.training.domain_fit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fracture_desktop.core.errors import ModelIntegrityError, ModelUnavailableError
from fracture_desktop.core.files import file_sha256

DOMAIN_FILE = "domain.npz"
#: The layers read, by name: the classifier's input, the Grad-CAM layer's output, and an
#: early layer (:func:`~fracture_desktop.core.inference.taps.early_layer`).
LAYERS = ("embedding", "cam_layer", "early")
#: Share of ``val`` images the threshold lets pass.
VAL_PASS_RATE = 0.95


@dataclass(frozen=True)
class DomainCheck:
    """A fitted domain check: per layer a mean and a precision matrix, and the threshold.

    Attributes
    ----------
    layers : tuple of str
        Names from :data:`LAYERS`, in the order of ``means`` and ``precisions``.
    means, precisions : tuple of ndarray
        Per layer the ``train`` mean (d,) and the inverse shrunk covariance (d, d), float32.
    scales : ndarray
        Per layer the median distance of ``val`` images; distances are divided by it.
    threshold : float
        The larger scaled distance that ``VAL_PASS_RATE`` of ``val`` images stay under.
    val_scores, val_probabilities : ndarray
        ``val``'s domain scores and calibrated probabilities: the reference a folder's
        distribution is compared with.
    """

    layers: tuple[str, ...]
    means: tuple[np.ndarray, ...]
    precisions: tuple[np.ndarray, ...]
    scales: np.ndarray
    threshold: float
    val_scores: np.ndarray
    val_probabilities: np.ndarray

    def distances(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """Mahalanobis distances (n, layers) of per-layer features, each (n, d).

        The product with the precision runs in numpy's own loop (``einsum``), on the
        calling thread: ``@`` hands it to BLAS, whose thread pool spins a second core for
        a single image's 1,280 x 1,280 product (5 ms of CPU instead of 0.3, and on a busy
        2-core machine the whole pass waited for that core; ``benchmarks/model_speed.py``).
        """
        out = []
        for x, mean, precision in zip(features, self.means, self.precisions, strict=True):
            centred = np.asarray(x, dtype=np.float32) - mean
            squared = np.sum(np.einsum("nd,de->ne", centred, precision) * centred, axis=1)
            out.append(np.sqrt(np.maximum(squared, 0.0)))
        return np.stack(out, axis=1)

    def scores(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """Domain scores (n,): 1 is the boundary, above 1 outside the domain."""
        return raw_scores(self.distances(features), self.scales) / self.threshold

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "layers": np.array(self.layers),
            "scales": self.scales,
            "threshold": np.array(self.threshold),
            "val_scores": self.val_scores,
            "val_probabilities": self.val_probabilities,
        }
        for name, mean, precision in zip(self.layers, self.means, self.precisions, strict=True):
            arrays[f"mean_{name}"] = mean
            arrays[f"precision_{name}"] = precision
        with open(path, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle


def raw_scores(distances: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The larger of the per-layer distances (n, layers), each divided by its ``scale``."""
    return (distances / scales).max(axis=1)


def load_domain_check(path: Path, sha256: str) -> DomainCheck:
    """Read a domain file after checking it against the sha256 its model card records.

    Raises
    ------
    ModelUnavailableError
        The file is missing or unreadable.
    ModelIntegrityError
        Its sha256 differs from the card's: a changed check could let any image through.
    """
    if not path.is_file():
        raise ModelUnavailableError(f"the domain check file is missing: {path}")
    actual = file_sha256(path)
    if actual != sha256:
        raise ModelIntegrityError(
            "the domain check does not match its model card; refusing to use the model",
            f"{path}: sha256 {actual}, card says {sha256}",
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            layers = tuple(str(name) for name in data["layers"])
            return DomainCheck(
                layers=layers,
                means=tuple(data[f"mean_{name}"].astype(np.float32) for name in layers),
                precisions=tuple(data[f"precision_{name}"].astype(np.float32) for name in layers),
                scales=data["scales"].astype(np.float64),
                threshold=float(data["threshold"]),
                val_scores=data["val_scores"].astype(np.float64),
                val_probabilities=data["val_probabilities"].astype(np.float64),
            )
    except (KeyError, OSError, ValueError) as exc:
        raise ModelUnavailableError("the domain check file cannot be read", repr(exc)) from exc
