"""collect_entries: findings the caller already has are reused, flagged ones rescored for a map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from report_helpers import CountingEngine

from fracture_desktop.core.findings import Finding, Flag
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report import collect_entries


def test_known_findings_are_reused_except_flagged_ones_needing_a_key_image(
    tmp_path: Path,
) -> None:
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(np.full((64, 48), 128, dtype=np.uint8)).save(tmp_path / name)
    records = scan_folder(tmp_path).images
    by_name = {r.path.name: r for r in records}
    known = {
        by_name["a.png"].path: Finding(by_name["a.png"].path, "id-a", Flag.NO_FRACTURE, 0.1),
        by_name["b.png"].path: Finding(by_name["b.png"].path, "id-b", Flag.FRACTURE, 0.9),
    }

    engine = CountingEngine()
    entries = collect_entries(records, engine, known=known)  # CSV only: no key images
    assert engine.scored == ["c.png"]
    flags = {e.path.name: e.flag for e in entries}
    assert flags == {"a.png": Flag.NO_FRACTURE, "b.png": Flag.FRACTURE, "c.png": Flag.DOUBT}
    assert all(e.warnings == () and e.record is not None for e in entries)

    engine = CountingEngine()
    entries = collect_entries(records, engine, key_images=True, known=known)  # for a PDF
    assert sorted(engine.scored) == ["b.png", "c.png"]  # the flagged one needs its heatmap
    keys = {e.path.name: e.key_image for e in entries}
    assert keys["a.png"] is None
    assert keys["b.png"] is not None and keys["b.png"].overlay_jpeg is not None
