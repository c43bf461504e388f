"""Shift benchmarks: how a model holds up on images unlike the ones it was chosen on.

Three kinds, each reported as ROC-AUC with its 95% interval **and** the median probability
of the normal images, the symptom seen outside FracAtlas (normals scored like fractures):

- **synthetic re-acquisition** of a split (:data:`REACQUISITIONS`): each stored image is
  re-made as another source might have made it (other size, noise, gamma, unsharp masking,
  JPEG quality, black borders, collimation, equalisation) before the app's own
  preprocessing. These operations act on the full-resolution image, unlike training's
  (:mod:`fracture_desktop.training.acquisition`, on the 256 px input), so no benchmark
  transform was seen in training;
- **source ratio**: the normals' median probability on large originals (> 1,500 px, one
  FracAtlas source) over that on small ones (<= 600 px, the other). A network that learnt
  the source as a cue scores large normals higher;
- **hold-outs** (:data:`~fracture_desktop.training.dataset.HOLDOUTS`): train without a
  source or a body region (``fracture-desktop train --holdout NAME``), test on what was
  held out (``fracture-desktop shift --holdout NAME``). ``small-control`` trains on as few
  images as ``large-to-small`` but from the tested source, so the gap between the two is
  what the change of source costs, apart from the small training set.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from fracture_desktop.core import metrics
from fracture_desktop.core.imaging.image import (
    LoadedImage,
    VoiFunction,
    VoiWindow,
    display_grey,
)
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.model_input import model_input
from fracture_desktop.core.inference.engine import InferenceEngine
from fracture_desktop.training.dataset import Sample, original_long_sides, source_bins
from fracture_desktop.training.evaluate import logits_for, prediction_rows
from fracture_desktop.training.scoring import predict_logits

Reacquisition = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _resample(long_side: int) -> Reacquisition:
    def resample(grey: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        scale = long_side / max(grey.shape)
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.LANCZOS))

    return resample


def _noise(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Quantum noise grows with the signal: a standard deviation of 3% at full brightness.
    return grey + 0.03 * np.sqrt(np.clip(grey, 0, 1)) * rng.standard_normal(grey.shape)


def _gamma(power: float) -> Reacquisition:
    return lambda grey, _rng: np.clip(grey, 0, 1) ** power


def _eight_bit(grey: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(grey, 0, 1) * 255).round().astype(np.uint8))


def _unsharp(grey: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    radius = max(2.0, max(grey.shape) / 400)
    sharpened = _eight_bit(grey).filter(ImageFilter.UnsharpMask(radius, 120, 2))
    return np.asarray(sharpened, dtype=np.float32) / 255


def _jpeg(quality: int) -> Reacquisition:
    def jpeg(grey: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        buffer = io.BytesIO()
        _eight_bit(grey).save(buffer, format="JPEG", quality=quality)
        return np.asarray(Image.open(buffer), dtype=np.float32) / 255

    return jpeg


def _frame(share: float, level: float) -> Reacquisition:
    """A border of ``share`` of each side: black padding (level 0) grows the canvas, a bright
    collimation frame (level > 0) covers the image's own edge."""

    def frame(grey: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        rows, cols = grey.shape
        dr, dc = round(share * rows), round(share * cols)
        if level == 0:
            return np.pad(grey, ((dr, dr), (dc, dc)))
        out = grey.copy()
        out[:dr], out[rows - dr :], out[:, :dc], out[:, cols - dc :] = level, level, level, level
        return out

    return frame


def _equalise(grey: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    return np.asarray(ImageOps.equalize(_eight_bit(grey)), dtype=np.float32) / 255


#: Re-acquisitions of a stored image, on its display grey in [0, 1] at full resolution.
REACQUISITIONS: dict[str, Reacquisition] = {
    "resample to 200 px": _resample(200),
    "resample to 2,000 px": _resample(2000),
    "noise 3%": _noise,
    "gamma 0.7": _gamma(0.7),
    "gamma 1.5": _gamma(1.5),
    "unsharp mask": _unsharp,
    "JPEG quality 60": _jpeg(60),
    "black border 15%": _frame(0.15, 0.0),
    "collimation 12%": _frame(0.12, 0.85),
    "histogram equalised": _equalise,
}


def reacquired(image: LoadedImage, name: str, seed: int) -> LoadedImage:
    """``image`` re-acquired by :data:`REACQUISITIONS` ``[name]``, as an image the app
    would load: its pixels are the re-made display grey, shown with the identity window, so
    that :func:`model_input` prepares it exactly as it prepares any file."""
    grey = display_grey(image)
    made = REACQUISITIONS[name](grey, np.random.default_rng(seed)).astype(np.float32)
    return replace(
        image,
        stored=made,
        values=np.clip(made, 0, 1),
        # LINEAR_EXACT with centre 0.5 and width 1 is the identity on [0, 1]
        # (PS3.3 C.11.2.1.3.2); plain LINEAR with width 1 would be a step.
        windows=(VoiWindow(0.5, 1.0, VoiFunction.LINEAR_EXACT, "re-acquired"),),
        voi_luts=(),
        invert=False,
    )


def _figures(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    normals = probs[labels == 0]
    return {
        "n": len(labels),
        "roc_auc": asdict(metrics.bootstrap_interval(labels, probs, "roc_auc"))
        if labels.min() != labels.max()
        else None,
        "median_probability_of_normals": float(np.median(normals)) if len(normals) else None,
    }


def shift_report(
    engine: InferenceEngine, samples: list[Sample], root: Path, cache_dir: Path, full: bool = True
) -> dict[str, Any]:
    """Clean figures for ``samples``; if ``full``, every re-acquisition and the source ratio
    too."""
    spec = engine.card.input_spec
    labels = np.array([s.label for s in samples])
    temperature = engine.card.temperature

    def probabilities(logits: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-logits / temperature))

    clean = probabilities(logits_for(engine, samples, cache_dir))
    report: dict[str, Any] = {
        "model": engine.card.label,
        "clean": _figures(labels, clean),
        # Per image, so runs of two recipes can be compared pairwise (training.paired).
        "predictions": prediction_rows(samples, clean),
    }
    if not full:
        return report
    names = list(REACQUISITIONS)
    # One image decoded at a time, its re-acquisitions scored as one batch: memory stays at
    # one image, whatever the split.
    logits = np.stack(
        [
            predict_logits(
                engine.model,
                np.stack([model_input(reacquired(image, name, seed), spec)[0] for name in names]),
                spec.channels,
            )
            for seed, image in enumerate(load_image(s.path) for s in samples)
        ]
    )
    for column, name in enumerate(names):
        report[name] = _figures(labels, probabilities(logits[:, column]))
    bins = source_bins(original_long_sides(samples, root))
    normal = labels == 0
    small, large = np.median(clean[normal & (bins == 0)]), np.median(clean[normal & (bins == 2)])
    report["source_ratio"] = {
        "median_probability_of_small_normals": float(small),
        "median_probability_of_large_normals": float(large),
        "large_over_small": float(large / small),
    }
    return report
