"""A small share of a training source for tests that train, calibrate and evaluate runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from fracture_desktop.training.dataset import ANNOTATIONS, CORNER_BOXES, Sample, source_samples


def small_share(
    source_dir: Path, out: Path, per_class: int, splits: tuple[str, ...]
) -> list[Sample]:
    """A share at ``out`` shaped like ``source_dir`` (FracAtlas or another source) with
    ``per_class`` fractured and non-fractured images of each of ``splits``, its metadata
    and its boxes."""
    samples = source_samples(source_dir)
    chosen: list[Sample] = []
    for split in splits:
        pool = [s for s in samples if s.split == split]
        chosen += [s for s in pool if s.label == 1][:per_class]
        chosen += [s for s in pool if s.label == 0][:per_class]
    for sample in chosen:
        folder = out / "images" / sample.path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.path, folder)
    shutil.copy(source_dir / "dataset.csv", out)
    for boxes in (ANNOTATIONS, CORNER_BOXES):
        if (source_dir / boxes).is_file():
            (out / boxes).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source_dir / boxes, out / boxes)
    rows = [f"{s.image_id},{s.label},{s.split}" for s in chosen]
    (out / "splits.csv").write_text("\n".join(["image_id,label,split", *rows]) + "\n")
    return chosen
