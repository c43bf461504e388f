"""A small FracAtlas-shaped share for tests that calibrate and evaluate whole runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from fracture_desktop.training.dataset import ANNOTATIONS, Sample, source_samples


def small_share(
    fracatlas_dir: Path, out: Path, per_class: int, splits: tuple[str, ...]
) -> list[Sample]:
    """A FracAtlas-shaped share at ``out`` with ``per_class`` fractured and non-fractured
    images of each of ``splits``, and its annotations."""
    samples = source_samples(fracatlas_dir)
    chosen: list[Sample] = []
    for split in splits:
        pool = [s for s in samples if s.split == split]
        chosen += [s for s in pool if s.label == 1][:per_class]
        chosen += [s for s in pool if s.label == 0][:per_class]
    for sample in chosen:
        folder = out / "images" / sample.path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.path, folder)
    shutil.copy(fracatlas_dir / "dataset.csv", out)
    (out / ANNOTATIONS).parent.mkdir(parents=True)
    shutil.copy(fracatlas_dir / ANNOTATIONS, out / ANNOTATIONS)
    rows = [f"{s.image_id},{s.label},{s.split}" for s in chosen]
    (out / "splits.csv").write_text("\n".join(["image_id,label,split", *rows]) + "\n")
    return chosen
