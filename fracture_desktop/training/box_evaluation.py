"""Boxes against the annotated fractures: the localiser's and Grad-CAM's, read by one decoder.

:func:`choose_localiser` sets a model's box threshold and scale on ``val``;
:func:`box_localisation` scores boxes on a split with :mod:`~fracture_desktop.training.box_metrics`
(pointing game, FROC, AP@0.5), overall and per body region. Everything is computed in the
model-input square, where annotations and maps meet (see :func:`input_boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fracture_desktop.core.boxes import Box, decode_boxes
from fracture_desktop.core.imaging.model_input import InputSpec, fit_box
from fracture_desktop.core.inference.card import LocaliserSettings
from fracture_desktop.core.inference.engine import InferenceEngine, grad_cam
from fracture_desktop.training.box_metrics import box_report, froc, sweep
from fracture_desktop.training.dataset import FractureBoxes, Sample, build_cache, input_boxes
from fracture_desktop.training.scoring import predict_with_maps

#: Box scales tried on val: a decoded box covers every cell its fracture touches.
SHRINKS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: False boxes per image on val at which the drawing threshold is set.
BOX_FALSE_RATE = 1.0


@dataclass(frozen=True)
class BoxCase:
    """One evaluation image for box metrics, in model-input coordinates."""

    truth: list[tuple[float, float, float, float]]
    area: float
    region: str


def box_cases(
    samples: list[Sample], boxes: dict[str, FractureBoxes], spec: InputSpec
) -> list[BoxCase]:
    """Annotated boxes of every sample (none for non-fractured images) in the input square.

    Fractured images without boxes are left out: where their fracture lies is unknown, so
    a box there is neither a hit nor a false box.
    """
    cases = []
    for sample in samples:
        found = boxes.get(sample.image_id)
        if sample.label and found is None:
            continue
        if found is not None:
            rows, cols = fit_box((found.height, found.width), spec.size, spec.letterbox)[2:]
            cases.append(BoxCase(input_boxes(found, spec), rows * cols, sample.region))
        else:
            cases.append(BoxCase([], float(spec.size * spec.size), sample.region))
    return cases


def usable_for_boxes(samples: list[Sample], boxes: dict[str, FractureBoxes]) -> list[Sample]:
    """The samples whose fractures' places are known: normals, and fractured images with
    boxes."""
    return [s for s in samples if not s.label or s.image_id in boxes]


def _square(spec: InputSpec) -> tuple[int, int]:
    # Decoding into the input square itself: the letterbox of a square is the identity.
    return (spec.size, spec.size)


def localiser_maps(
    engine: InferenceEngine, samples: list[Sample], cache_dir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Maps (N, channels, rows, cols) of a localising model on cached inputs (see
    :func:`~fracture_desktop.training.scoring.predict_with_maps`), and the calibrated
    probabilities (N,)."""
    spec = engine.card.input_spec
    inputs = build_cache(samples, spec, cache_dir)
    logits, maps = predict_with_maps(engine.model, inputs, spec.channels)
    return maps, 1.0 / (1.0 + np.exp(-logits / engine.card.temperature))


def gradcam_maps(
    engine: InferenceEngine, samples: list[Sample], cache_dir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps (N, 1, rows, cols), each scaled to [0, 1] (read like an objectness
    head's), and the calibrated probabilities (N,), on cached inputs."""
    spec = engine.card.input_spec
    inputs = build_cache(samples, spec, cache_dir)
    maps, logits = [], []
    for start in range(len(inputs)):
        x = torch.from_numpy(np.array(inputs[start : start + 1]))[:, None]
        logit, cam = grad_cam(engine.model, x.expand(-1, spec.channels, -1, -1))
        maps.append(cam)
        logits.append(float(logit[0]))
    probs = 1.0 / (1.0 + np.exp(-np.array(logits) / engine.card.temperature))
    return np.stack(maps)[:, None], probs


def decode_all(
    maps: np.ndarray, spec: InputSpec, settings: LocaliserSettings, weights: np.ndarray | None
) -> list[tuple[Box, ...]]:
    """Boxes of every map in input coordinates; ``weights`` (one per image, such as its
    probability) scale the scores, for maps such as Grad-CAM's that are normalised per
    image and for :attr:`LocaliserSettings.by_probability`."""
    return [
        decode_boxes(
            scores,
            _square(spec),
            spec,
            settings.threshold,
            settings.max_boxes,
            settings.shrink,
            1.0 if weights is None else float(weights[index]),
        )
        for index, scores in enumerate(maps)
    ]


def choose_localiser(
    maps: np.ndarray, probabilities: np.ndarray, cases: list[BoxCase], spec: InputSpec
) -> dict[str, Any]:
    """The drawing threshold, box scale and box score, chosen on val.

    Box score: the peak alone or times the image's probability, whichever finds more
    annotated fractures at :data:`BOX_FALSE_RATE` false boxes per image. Threshold: the
    lowest box score at which the val images get at most that many false boxes each (one
    false box per image, FROC's usual operating point). Scale: the one with the highest
    AP@0.5 on val.
    """
    truth = [c.truth for c in cases]
    low = LocaliserSettings(threshold=0.0)
    best_shrink = max(
        SHRINKS,
        key=lambda k: box_report(
            decode_all(maps, spec, replace(low, shrink=k), None), truth, [c.area for c in cases]
        )["ap_at_0.5"],
    )
    by_probability = max(
        (False, True),
        key=lambda weighted: froc(
            decode_all(maps, spec, low, probabilities if weighted else None), truth
        )[f"sensitivity_at_{BOX_FALSE_RATE:g}_false_per_image"],
    )
    candidates = decode_all(
        maps,
        spec,
        replace(low, shrink=best_shrink),
        probabilities if by_probability else None,
    )
    points = sweep(candidates, truth)
    threshold = points[0].score if points else 0.5
    for point in points:
        if point.false / len(cases) > BOX_FALSE_RATE:
            break
        threshold = point.score
    return {
        "threshold": float(threshold),
        "shrink": best_shrink,
        "max_boxes": low.max_boxes,
        "by_probability": by_probability,
        "rule": f"lowest box score with at most {BOX_FALSE_RATE:g} false box per image on "
        "val; box scale with the highest AP@0.5 on val; box score by the probability where "
        f"that finds more fractures at {BOX_FALSE_RATE:g} false box per image on val",
        "split": "val",
    }


def box_localisation(
    engine: InferenceEngine,
    samples: list[Sample],
    boxes: dict[str, FractureBoxes],
    cache_dir: Path,
) -> dict[str, Any]:
    """The localiser's boxes (if the model has one) and Grad-CAM's, read by the same decoder,
    against the annotated boxes: overall and per body region."""
    spec = engine.card.input_spec
    usable = usable_for_boxes(samples, boxes)
    cases = box_cases(usable, boxes, spec)
    # Grad-CAM maps are scaled per image, so their boxes carry the image's probability.
    cams, probs = gradcam_maps(engine, usable, cache_dir)
    sources = {"gradcam": decode_all(cams, spec, LocaliserSettings(0.0), probs)}
    if engine.card.localiser is not None:
        # Every box the decoder finds, for FROC and AP; the card's threshold only decides
        # which of them the app draws.
        maps, probabilities = localiser_maps(engine, usable, cache_dir)
        sources["localiser"] = decode_all(
            maps,
            spec,
            replace(engine.card.localiser, threshold=0.0),
            probabilities if engine.card.localiser.by_probability else None,
        )
    regions = np.array([c.region for c in cases])
    result: dict[str, Any] = {}
    for name, predicted in sources.items():
        result[name] = {
            "overall": box_report(predicted, [c.truth for c in cases], [c.area for c in cases])
        }
        for region in sorted(set(regions)):
            chosen = np.flatnonzero(regions == region)
            result[name][f"region:{region}"] = box_report(
                [predicted[i] for i in chosen],
                [cases[i].truth for i in chosen],
                [cases[i].area for i in chosen],
            )
    return result
