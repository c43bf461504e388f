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

from fracture_desktop.core.imaging.image import display_grey
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


def bench_load(paths: list[Path], repeats: int) -> list[tuple[str, float, float]]:
    """Per file: (name, our load + default window seconds, bare pydicom seconds).

    The two are timed alternately and the best of ``repeats`` kept, so that background load
    on the machine (training shares these cores) hits both alike.
    """
    rows = []
    for path in paths:
        ours, bare = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            display_grey(load_image(path))
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            _ = pydicom.dcmread(path).pixel_array
            bare.append(time.perf_counter() - start)
        rows.append((path.name, min(ours), min(bare)))
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
    print("load + default window vs bare pydicom.dcmread(f).pixel_array (uncompressed):")
    for name, ours, bare in rows:
        ratio = ours / bare
        print(f"  {name:<16} ours {ours * 1000:7.1f} ms  bare {bare * 1000:7.1f} ms  x{ratio:.2f}")
    overall = statistics.geometric_mean([o / b for _n, o, b in rows])
    radiographs = statistics.geometric_mean([o / b for n, o, b in rows if "small" not in n])
    print(
        f"ratio (geometric mean): x{overall:.2f}; radiographs: x{radiographs:.2f} (target <= 1.3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
