"""The shipped model's boxes land on real fractures, in the pixels of the stored image."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.inference.engine import InferenceEngine
from fracture_desktop.training.dataset import ANNOTATIONS, fracture_boxes, source_samples


def test_the_top_box_lies_on_the_annotated_fracture_of_most_test_images(
    shipped_model_dir: Path, fracatlas_dir: Path
) -> None:
    engine = InferenceEngine.load(shipped_model_dir, device="cpu")
    assert engine.card.localiser is not None
    # Every box the head finds, so that each image has a top box to judge.
    engine.card = dataclasses.replace(
        engine.card, localiser=dataclasses.replace(engine.card.localiser, threshold=0.0)
    )
    annotated = fracture_boxes(fracatlas_dir / ANNOTATIONS)
    fractured = [
        s
        for s in source_samples(fracatlas_dir)
        if s.split == "test" and s.label and s.image_id in annotated
    ][:20]
    hits = 0
    for sample in fractured:
        image = load_image(sample.path)
        truth = annotated[sample.image_id]
        assert (truth.height, truth.width) == image.shape
        x, y = engine.predict(image).boxes[0].centre
        hits += any(x0 <= x <= x0 + w and y0 <= y <= y0 + h for x0, y0, w, h in truth.boxes)
    # The test split's pointing game is 0.64 (docs/MODEL.md), chance 0.01: a transposed,
    # mirrored or mis-scaled box lands on a fracture about never.
    assert hits >= 8, f"{hits} of {len(fractured)}"
