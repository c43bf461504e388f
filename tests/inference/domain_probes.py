"""Images a fracture model must not answer for: built from numpy, plus CT and MR slices.

Used by the domain-check and folder shift tests.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

#: Modalities of ``MANIFEST.tsv`` rows used as cross-sectional probes.
CROSS_SECTIONAL = ("CT", "MR")


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], passes: int = 6) -> np.ndarray:
    """Random values blurred by repeated 2x2 box averaging over a coarse grid, upsampled."""
    coarse = rng.random((shape[0] // 32 + 2, shape[1] // 32 + 2, *shape[2:]))
    for _ in range(passes // 3):
        coarse = (coarse[1:, 1:] + coarse[:-1, :-1] + coarse[1:, :-1] + coarse[:-1, 1:]) / 4
    big = np.kron(coarse, np.ones((32, 32, *([1] * (len(shape) - 2)))))
    return big[: shape[0], : shape[1]]


def synthetic_probes(seed: int = 0) -> dict[str, np.ndarray]:
    """Named 8-bit pictures, grey (rows, cols) or colour (rows, cols, 3): noise, colour
    pictures, blank frames and gradients, in a few sizes and aspect ratios."""
    rng = np.random.default_rng(seed)
    probes: dict[str, np.ndarray] = {}
    for i, (rows, cols) in enumerate(((512, 512), (600, 400), (384, 640))):
        probes[f"noise_uniform_{i}"] = rng.integers(0, 256, (rows, cols), dtype=np.uint8)
        probes[f"noise_gauss_{i}"] = np.clip(rng.normal(128, 40, (rows, cols)), 0, 255).astype(
            np.uint8
        )
        probes[f"noise_colour_{i}"] = rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8)
        smooth = _smooth(rng, (rows, cols, 3))
        probes[f"colour_field_{i}"] = (255 * (smooth - smooth.min()) / np.ptp(smooth)).astype(
            np.uint8
        )
        y, x = np.mgrid[0:rows, 0:cols]
        blocks = ((y // 64 + x // 64) % 3)[..., None] * np.array([[[90, 40, 10]]])
        probes[f"colour_blocks_{i}"] = (blocks + rng.integers(0, 60, 3)).astype(np.uint8)
        sky = np.stack([y * 0 + 90, y * 0 + 150, 200 + 0 * x], axis=-1)
        ground = np.stack([60 + 0 * x, 120 + 0 * x, 40 + 0 * y], axis=-1)
        scene = np.where((y > rows * (0.5 + 0.1 * np.sin(x / 40)))[..., None], ground, sky)
        sun = (y - rows // 4) ** 2 + (x - cols // 3) ** 2 < (rows // 10) ** 2
        scene[sun] = (250, 220, 60)
        probes[f"colour_scene_{i}"] = np.clip(scene + rng.normal(0, 8, scene.shape), 0, 255).astype(
            np.uint8
        )
        for value in (0, 128, 255):
            probes[f"blank_{value}_{i}"] = np.full((rows, cols), value, dtype=np.uint8)
        probes[f"gradient_h_{i}"] = np.broadcast_to(np.linspace(0, 255, cols), (rows, cols)).astype(
            np.uint8
        )
        probes[f"gradient_v_{i}"] = np.broadcast_to(
            np.linspace(0, 255, rows)[:, None], (rows, cols)
        ).astype(np.uint8)
        radius = np.hypot(y - rows / 2, x - cols / 2)
        probes[f"gradient_radial_{i}"] = (255 * radius / radius.max()).astype(np.uint8)
        probes[f"gradient_diagonal_{i}"] = (255 * (y + x) / (rows + cols)).astype(np.uint8)
    return probes


def write_probes(folder: Path, seed: int = 0) -> list[Path]:
    """Save :func:`synthetic_probes` as PNG files in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, pixels in synthetic_probes(seed).items():
        path = folder / f"{name}.png"
        Image.fromarray(np.ascontiguousarray(pixels)).save(path)
        paths.append(path)
    return paths


def cross_sectional_files(dicom_root: Path) -> list[Path]:
    """CT and MR files of the shared DICOM corpus that its manifest lists as decodable."""
    with open(dicom_root / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        dicom_root / row["path"]
        for row in rows
        if row["modality"] in CROSS_SECTIONAL and row["decode_with_plugins"] == "ok"
    ]
