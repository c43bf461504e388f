"""Imaging benchmark: header-scan rate, time to first image, load + window vs bare pydicom.

Builds a temporary folder of hard links (copies where links fail) to ../shared/dicom files,
then prints the numbers next to the targets of issue 2. Run: ``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pydicom

from fracture_desktop.core.imaging.image import default_voi, display_grey
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.imaging.scan import scan_folder

SHARED_DICOM = Path(__file__).resolve().parents[1].parent / "shared" / "dicom"
# Uncompressed radiographs (Explicit VR Little Endian), the case the ratio target is about.
UNCOMPRESSED = (
    "nema-wg04/REF/RG2_UNC",
    "nema-wg04/REF/RG3_UNC",
    "pydicom-data_1.0.0/RG1_UNCR.dcm",
    "pydicom_3.0.2/CT_small.dcm",
    "pydicom_3.0.2/MR_small.dcm",
)


def build_folder(source: Path, target: Path, count: int) -> int:
    """Fill ``target`` with ``count`` links to the files under ``source``, 100 per folder."""
    files = [
        p for p in sorted(source.rglob("*")) if p.is_file() and p.suffix not in (".tsv", ".md")
    ]
    for i in range(count):
        src = files[i % len(files)]
        folder = target / f"d{i // 100:03d}"
        folder.mkdir(exist_ok=True)
        dst = folder / f"{i:05d}_{src.name}"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return count


def bench_scan(folder: Path) -> tuple[float, float, int]:
    """(files per second, seconds to the first image record, images found)."""
    start = time.perf_counter()
    first: list[float] = []

    def on_record(_record: ImageRecord) -> None:
        if not first:
            first.append(time.perf_counter() - start)

    result = scan_folder(folder, on_record=on_record)
    elapsed = time.perf_counter() - start
    total = len(result.images) + len(result.problems) + len(result.skipped)
    return total / elapsed, first[0] if first else float("nan"), len(result.images)


def bench_load(paths: list[Path], repeats: int) -> list[tuple[str, float, float, float]]:
    """Per file: (name, bare pydicom, our load + default window, our load + windowed pixels),
    seconds, the best of ``repeats`` rounds.

    "Load + default window" is what the viewer needs to show an image: the values after
    the Modality LUT and the window to show them through (the image view hands both to
    pyqtgraph, which maps them to screen pixels when it paints). "Windowed pixels" adds
    :func:`display_grey`, the float32 array that thumbnails and the model start from.
    Each round times every variant a few times in a row, so that each runs in its own
    steady state of memory reuse rather than paying for the previous one's allocations.
    """
    variants = (
        lambda path: pydicom.dcmread(path).pixel_array,
        lambda path: default_voi(load_image(path)),
        lambda path: display_grey(load_image(path)),
    )
    rows = []
    for path in paths:
        best = [float("inf")] * len(variants)
        for _ in range(repeats):
            for i, variant in enumerate(variants):
                for _ in range(3):
                    start = time.perf_counter()
                    variant(path)
                    best[i] = min(best[i], time.perf_counter() - start)
        rows.append((path.name, *best))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=3000, help="files in the scan folder")
    parser.add_argument("--repeats", type=int, default=15, help="timing repeats (best is kept)")
    parser.add_argument("--source", type=Path, default=SHARED_DICOM)
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"no test files at {args.source}", file=sys.stderr)
        return 1
    warnings.simplefilter("ignore")  # bare pydicom reads of odd files warn; not measured
    with tempfile.TemporaryDirectory(prefix="fd-bench-") as tmp:
        count = build_folder(args.source, Path(tmp), args.files)
        bench_scan(Path(tmp))  # warm the page cache and imports: measure steady state
        rate, first, images = bench_scan(Path(tmp))
    print(f"header scan: {count} files, {images} images, {rate:,.0f} files/s  (target >= 1,500)")
    print(f"first image record after {first * 1000:.1f} ms  (target < 300 ms)")
    rows = bench_load([args.source / p for p in UNCOMPRESSED], args.repeats)
    print("uncompressed files, against bare pydicom.dcmread(f).pixel_array:")
    print(f"  {'file':<14} {'bare':>8} {'load + window':>20} {'+ windowed pixels':>20}")
    for name, bare, shown, pixels in rows:
        print(
            f"  {name:<14} {bare * 1000:6.1f} ms {shown * 1000:9.1f} ms (x{shown / bare:.2f})"
            f" {pixels * 1000:9.1f} ms (x{pixels / bare:.2f})"
        )
    radiographs = [r for r in rows if "small" not in r[0]]
    for label, column in (("load + default window", 2), ("load + windowed pixels", 3)):
        ratio = statistics.geometric_mean([r[column] / r[1] for r in radiographs])
        print(f"{label}, radiographs (geometric mean): x{ratio:.2f}  (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
