"""A PDF after analysis: flagged images whose heatmap the viewer kept are not scored again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from report_helpers import CountingEngine

from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report import collect_entries
from fracture_desktop.core.results_store import HEATMAP_SIDE, small_heatmap


def test_a_kept_heatmap_makes_the_key_image_without_the_model(tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((300, 200), 128, dtype=np.uint8)).save(tmp_path / name)
    records = scan_folder(tmp_path).images
    a, b = (r.path for r in records)
    known = {
        a: Finding(a, "id-a", Flag.NO_FRACTURE, 0.1),
        b: Finding(b, "id-b", Flag.FRACTURE, 0.9),
    }
    heat = np.zeros((300, 200), dtype=np.float32)
    heat[100:200, 50:150] = 1.0
    kept = small_heatmap(heat)
    assert max(kept.shape) <= HEATMAP_SIDE and kept.dtype == np.uint8
    engine = CountingEngine()
    entries = collect_entries(
        records,
        engine,
        key_images=True,
        known=known,
        known_heatmaps={b: kept.astype(np.float32) / 255.0},
    )
    assert engine.scored == []
    by_path = {e.path: e for e in entries}
    assert by_path[a].key_image is None
    key = by_path[b].key_image
    assert key is not None and key.overlay_jpeg is not None
    assert (key.width, key.height) == (200, 300)  # the map is stretched to the image
