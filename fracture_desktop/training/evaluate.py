"""Calibrate a trained network on ``val`` and evaluate it on a split or an external folder.

Everything chosen (temperature, thresholds) is chosen on ``val``; ``test`` is only scored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fracture_desktop.core import metrics
from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.findings import Thresholds
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.model_input import model_input
from fracture_desktop.core.inference.card import CARD_FILE, LocaliserSettings, ModelCard
from fracture_desktop.core.inference.engine import InferenceEngine, cam_to_image, grad_cam
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.training.architectures import best_of_run, parameter_count
from fracture_desktop.training.box_evaluation import (
    box_cases,
    box_localisation,
    choose_localiser,
    localiser_maps,
    usable_for_boxes,
)
from fracture_desktop.training.dataset import (
    FractureBoxes,
    Sample,
    cached_inputs,
    load_samples,
    load_sources,
    source_boxes,
)
from fracture_desktop.training.metrics import fit_temperature
from fracture_desktop.training.scoring import predict_logits


def logits_for(engine: InferenceEngine, samples: list[Sample], cache_dir: Path) -> np.ndarray:
    spec = engine.card.input_spec
    inputs = cached_inputs(samples, spec, cache_dir)
    return predict_logits(engine.model, inputs, spec.channels)


def prediction_rows(samples: list[Sample], probs: np.ndarray) -> list[dict[str, Any]]:
    """One ``{"image", "label", "probability"}`` row per image: what
    :mod:`fracture_desktop.training.paired` reads to compare models image by image."""
    return [
        {"image": s.image_id, "label": s.label, "probability": float(p)}
        for s, p in zip(samples, probs, strict=True)
    ]


def calibrate_run(
    run_dir: Path, data: list[Path], cache_dir: Path, mirror_average: bool = False
) -> tuple[InferenceEngine, dict]:
    """Load a run's best checkpoint; fit temperature and thresholds on ``val``: the union of
    the val splits of every source in ``data``.

    With ``mirror_average`` the network is wrapped in
    :class:`~fracture_desktop.core.inference.mirror.MirrorAverage` first, so that the
    temperature and thresholds fit the mean logits the app will compute.

    Returns an engine holding an in-memory card and the card's calibration/threshold parts.
    """
    config, arch, model = best_of_run(Path(run_dir))
    if mirror_average:
        model = MirrorAverage(model)
    every, boxes = load_sources(data)
    val = [s for s in every if s.split == "val"]
    on = " + ".join(dict.fromkeys(s.source for s in val))
    draft = ModelCard(
        directory=Path(run_dir),
        id=config["arch"],
        version="run",
        architecture=config["arch"],
        input_spec=arch.input_spec,
        temperature=1.0,
        thresholds=Thresholds(0.5, 0.5),
        weights_file="best.pt",
        sha256=file_sha256(Path(run_dir) / "best.pt"),
        intended_use="",
        mirror_average=mirror_average,
    )
    engine = InferenceEngine(draft, model, "cpu")
    labels = np.array([s.label for s in val])
    logits = logits_for(engine, val, cache_dir)
    temperature = fit_temperature(labels, logits)
    probs = 1.0 / (1.0 + np.exp(-logits / temperature))
    sources = np.array([s.source for s in val])
    fracture, doubt = metrics.operating_thresholds(labels, probs, sources)
    rules = metrics.threshold_rules("val", per_source=len(set(sources)) > 1)
    parts: dict[str, Any] = {
        "calibration": {
            "method": "temperature scaling, NLL on the val split",
            "temperature": temperature,
            "sources": on,
        },
        "thresholds": {
            name: {"value": value, "rule": rules[name], "split": "val", "sources": on}
            for name, value in (("fracture", fracture), ("doubt", doubt))
        },
    }
    card = replace(draft, temperature=temperature, thresholds=Thresholds(fracture, doubt))
    if hasattr(model, "forward_with_map") and boxes:
        usable = usable_for_boxes(val, boxes)
        # The calibrated probabilities, for boxes scored by them.
        maps, probabilities = localiser_maps(InferenceEngine(card, model, "cpu"), usable, cache_dir)
        chosen = choose_localiser(
            maps, probabilities, box_cases(usable, boxes, arch.input_spec), arch.input_spec
        )
        parts["localiser"] = chosen
        card = replace(
            card,
            localiser=LocaliserSettings(
                chosen["threshold"],
                chosen["shrink"],
                chosen["max_boxes"],
                chosen["by_probability"],
            ),
        )
    return InferenceEngine(card, model, "cpu"), parts


def _subgroups(samples: list[Sample], labels: np.ndarray, probs: np.ndarray, th: dict) -> dict:
    groups: dict[str, Any] = {}
    regions = np.array([s.region for s in samples])
    for region in dict.fromkeys(regions.tolist()):
        mask = regions == region
        groups[f"region:{region}"] = metrics.summary(labels[mask], probs[mask], th)
    hardware = np.array([s.hardware for s in samples])
    if any(h is not None for h in hardware):
        for value, name in ((True, "hardware"), (False, "no_hardware")):
            mask = hardware == value
            if mask.any():
                groups[name] = metrics.summary(labels[mask], probs[mask], th)
    return groups


def _curves(labels: np.ndarray, probs: np.ndarray, out_dir: Path, title: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(labels, probs)
    precision, recall, _ = precision_recall_curve(labels, probs)
    files = []
    for name, x, y, xl, yl, ref in (
        ("roc.png", fpr, tpr, "1 - specificity", "sensitivity", ([0, 1], [0, 1])),
        ("pr.png", recall, precision, "recall", "precision", ([0, 1], [labels.mean()] * 2)),
    ):
        fig, ax = plt.subplots(figsize=(4, 4), dpi=120)
        ax.plot(x, y, lw=2)
        ax.plot(*ref, ls="--", c="grey", lw=1)
        ax.set(xlabel=xl, ylabel=yl, title=title, xlim=(0, 1), ylim=(0, 1.02))
        fig.tight_layout()
        fig.savefig(out_dir / name)
        plt.close(fig)
        files.append(name)
    return files


def localisation(
    engine: InferenceEngine, samples: list[Sample], boxes: dict[str, FractureBoxes], limit: int = 0
) -> dict[str, float]:
    """Grad-CAM against the fracture boxes, on fractured images that have boxes.

    Pointing game: is the heatmap's maximum inside a box? Energy: share of the heatmap's
    sum inside boxes. Each comes with its chance level, the boxes' share of the image area.
    """
    chosen = [s for s in samples if s.label == 1 and s.image_id in boxes]
    chosen = chosen[:limit] if limit else chosen
    hits, energies, areas = [], [], []
    for sample in chosen:
        heat = engine.predict(load_image(sample.path), heatmap=True).heatmap
        mask = np.zeros(heat.shape, dtype=bool)
        for x, y, w, h in boxes[sample.image_id].boxes:
            mask[int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))] = True
        peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
        hits.append(bool(mask[peak]))
        total = float(heat.sum())
        energies.append(float(heat[mask].sum()) / total if total > 0 else 0.0)
        areas.append(float(mask.mean()))
    return {
        "images": len(chosen),
        "pointing_game_hit_rate": float(np.mean(hits)) if hits else float("nan"),
        "energy_inside_boxes": float(np.mean(energies)) if energies else float("nan"),
        "chance_box_area_fraction": float(np.mean(areas)) if areas else float("nan"),
    }


def speed(engine: InferenceEngine, image_path: Path, repeats: int = 30) -> dict[str, float]:
    """CPU milliseconds per image on one thread: forward alone, forward + Grad-CAM, and for a
    localising model the whole prediction with its boxes.

    The first two time the network only, from the prepared input, so they compare fairly;
    the heatmap time also includes mapping the map back to image pixels, and the box time
    the engine's whole :meth:`~InferenceEngine.predict` (input, map, decoding).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        image = load_image(image_path)
        spec = engine.card.input_spec
        x = torch.from_numpy(model_input(image, spec))[None]
        with torch.inference_mode():
            forward = _mean_seconds(lambda: engine.model(x), repeats)

        def heatmap() -> None:
            _, cam = grad_cam(engine.model, x)
            cam_to_image(cam, image.shape, spec)

        timings = {
            "forward_ms": forward * 1e3,
            "forward_with_heatmap_ms": _mean_seconds(heatmap, repeats) * 1e3,
        }
        if engine.card.localiser is not None:
            boxes = _mean_seconds(lambda: engine.predict(image), repeats)
            timings["predict_with_boxes_ms"] = boxes * 1e3
    finally:
        torch.set_num_threads(threads)
    return timings


def _mean_seconds(work: Callable[[], object], repeats: int) -> float:
    """Mean wall time of ``work`` over ``repeats`` runs, after one warm-up run."""
    work()
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    return (time.perf_counter() - start) / repeats


def load_for_evaluation(
    model: Path, data: list[Path], cache_dir: Path, mirror_average: bool = False
) -> tuple[InferenceEngine, dict[str, Any]]:
    """A shipped model folder (with its card) or a training run folder (calibrated on val).

    ``mirror_average`` applies to a run only: a model folder's card says whether it
    averages mirrored views.
    """
    if (Path(model) / CARD_FILE).is_file():
        engine = InferenceEngine.load(model, device="cpu")
        return engine, {}
    return calibrate_run(model, data, cache_dir, mirror_average)


def evaluate_model(
    engine: InferenceEngine,
    samples: list[Sample],
    out_dir: Path,
    cache_dir: Path,
    boxes: dict[str, FractureBoxes] | None = None,
    localisation_limit: int = 0,
) -> dict[str, Any]:
    """Score ``samples`` and write ``report.json``, ``roc.png`` and ``pr.png`` to ``out_dir``.

    Operating points are the card's ``fracture`` and ``doubt`` thresholds, plus 0.5 for a
    like-for-like comparison with papers that report accuracy at 0.5.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = np.array([s.label for s in samples])
    logits = logits_for(engine, samples, cache_dir)
    probs = 1.0 / (1.0 + np.exp(-logits / engine.card.temperature))
    th = {
        "fracture": engine.card.thresholds.fracture,
        "doubt": engine.card.thresholds.doubt,
        "0.5": 0.5,
    }
    report: dict[str, Any] = {
        "model": engine.card.label,
        "architecture": engine.card.architecture,
        "parameters": parameter_count(engine.card.architecture),
        "mirror_average": engine.card.mirror_average,
        "temperature": engine.card.temperature,
        "thresholds": th,
        "overall": metrics.summary(labels, probs, th),
        "subgroups": _subgroups(samples, labels, probs, th),
    }
    if len(set(labels.tolist())) > 1:
        report["curves"] = _curves(labels, probs, out_dir, engine.card.id)
    if boxes:
        report["localisation"] = localisation(engine, samples, boxes, localisation_limit)
        report["boxes"] = box_localisation(engine, samples, boxes, cache_dir)
    report["speed_cpu_1_thread"] = speed(engine, samples[0].path)
    predictions = prediction_rows(samples, probs)
    (out_dir / "predictions.json").write_text(json.dumps(predictions, indent=0))
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def evaluation_samples(data: Path, split: str | None) -> list[Sample]:
    """FracAtlas samples of ``split``, or every sample of an external labelled folder."""
    samples = load_samples(data)
    if split and any(s.split for s in samples):
        samples = [s for s in samples if s.split == split]
    return samples


def default_boxes(data: Path) -> dict[str, FractureBoxes]:
    """The fracture boxes of a source folder; none for a labelled folder without them."""
    return source_boxes(data) if (Path(data) / "splits.csv").is_file() else {}
