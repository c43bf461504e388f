"""Throughput and peak memory of ``fracture-desktop scan`` on the FracAtlas test split.

Builds a temporary folder of hard links (symbolic links where hard links fail) to the test
split's JPEGs, then runs the real command in a fresh process per folder size, so each peak
resident set (``ru_maxrss`` of that child alone, via ``os.wait4``) belongs to one run. The
peak staying level from the small folder to the full split shows that memory does not grow
with the folder. Uses the shipped model when present, else an untrained one of the same
architecture (same cost per image). Target (issue 5): >= 20 images/s end to end on CPU.
``scan`` reads with ONNX Runtime on the CPU; ``--torch`` scores with the torch engine
instead (a copy of the model folder whose card names no graph), for comparison.

Then the cost of the pipeline over decoding alone (issue 31: ``scan`` of 200 images in at
most 2.5 times what decoding the same files with Pillow alone takes): the 200 files are
decoded with Pillow in this process, one after the other (the best of three rounds, files
cached by the first), and the CSV scan's analysis time and wall time are printed beside it.

Run: ``python -m benchmarks.scan_throughput [--sizes 100,523] [--versus-pillow 200]
[--device cpu] [--torch]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fracture_desktop.core.inference.card import default_model_dir
from fracture_desktop.core.inference.devices import DEVICES
from fracture_desktop.core.paths import DATA_DIR_ENV

FRACATLAS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fracatlas"
TARGET_RATE = 20.0
#: ``scan`` time over Pillow's decoding time of the same files, at most (issue 31).
TARGET_OVER_PILLOW = 2.5
_SUMMARY_TIME = re.compile(r"Time\s+(\d+) images in ([\d.]+) s")


def test_split(root: Path) -> list[Path]:
    """The test split's image files, in splits.csv order."""
    by_name = {p.name: p for p in (root / "images").rglob("*.jpg")}
    with open(root / "splits.csv", encoding="utf-8", newline="") as f:
        names = [row["image_id"] for row in csv.DictReader(f) if row["split"] == "test"]
    return [by_name[n] for n in names if n in by_name]


def link_folder(files: list[Path], target: Path) -> Path:
    target.mkdir(parents=True)
    for src in files:
        try:
            os.link(src, target / src.name)
        except OSError:
            os.symlink(src, target / src.name)
    return target


def model_dir(work: Path) -> tuple[Path, str]:
    shipped = default_model_dir()
    if (shipped / "model_card.json").is_file():
        return shipped, "shipped"
    from fracture_desktop.training.export import untrained_model_dir

    return untrained_model_dir(work / "untrained").directory, "untrained (same architecture)"


def without_graph(model: Path, work: Path) -> Path:
    """A copy of ``model`` whose card names no ONNX graph: ``scan`` then runs torch."""
    copy = work / f"{model.name}-torch"
    shutil.copytree(model, copy, ignore=shutil.ignore_patterns("*.onnx"))
    card = json.loads((copy / "model_card.json").read_text(encoding="utf-8"))
    card.pop("onnx", None)
    (copy / "model_card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return copy


def run_scan(
    folder: Path, model: Path, device: str, threads: int, pdf: bool, out: Path
) -> dict[str, float]:
    """One ``scan`` in a child process: rates, CPU seconds per image, peak RSS in MiB."""
    argv = [sys.executable, "-m", "fracture_desktop", "scan", str(folder), "--model", str(model)]
    argv += ["--device", device, "--threads", str(threads), "--csv", str(out / "r.csv")]
    argv += ["--decisions", str(out / "decisions.json"), "--overwrite"]
    if pdf:
        argv += ["--pdf", str(out / "r.pdf")]
    # A fresh data store each run: kept results would be reused, and nothing measured.
    env = {**os.environ, DATA_DIR_ENV: tempfile.mkdtemp(prefix="data-", dir=out)}
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    stdout = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"scan failed with exit code {child.returncode}:\n{stdout}")
    match = _SUMMARY_TIME.search(stdout)
    images, seconds = (int(match[1]), float(match[2])) if match else (0, wall)
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "images": images,
        "wall": wall,
        "rate": images / seconds if seconds else 0.0,
        "wall_rate": images / wall,
        "cpu_ms": 1000 * (usage.ru_utime + usage.ru_stime) / max(images, 1),
        "peak_mib": usage.ru_maxrss * scale / 2**20,
        "pdf_kib": (out / "r.pdf").stat().st_size / 1024 if pdf else 0.0,
    }


def pillow_seconds(files: list[Path], rounds: int = 3) -> float:
    """Seconds to decode ``files`` with Pillow alone, one after the other: the best round."""
    from PIL import Image

    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for path in files:
            with Image.open(path) as image:
                image.load()
        best = min(best, time.perf_counter() - started)
    return best


def versus_pillow(files: list[Path], work: Path, model: Path, device: str, threads: int) -> None:
    """Print a CSV scan of ``files`` beside Pillow's decoding of the same files."""
    folder = link_folder(files, work / f"pillow{len(files)}")
    out = work / f"pillow{len(files)}-out"
    out.mkdir()
    decode = pillow_seconds(files)
    r = run_scan(folder, model, device, threads, False, out)
    analysis = r["images"] / r["rate"] if r["rate"] else r["wall"]
    print(
        f"{len(files)} images: Pillow decodes them in {decode:.2f} s; scan analyses them in "
        f"{analysis:.2f} s ({analysis / decode:.1f}x), {r['wall']:.2f} s end to end "
        f"({r['wall'] / decode:.1f}x); target <= {TARGET_OVER_PILLOW:g}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FRACATLAS, help="FracAtlas folder")
    parser.add_argument("--sizes", default="100,523", help="folder sizes, comma-separated")
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument("--threads", type=int, default=0, help="model threads (0: scan's auto)")
    parser.add_argument("--torch", action="store_true", help="score with the torch engine")
    parser.add_argument(
        "--versus-pillow", type=int, default=200, metavar="N",
        help="compare a scan of N images with Pillow decoding them (0: skip)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    files = test_split(args.data)
    if not files:
        print(f"no FracAtlas test split under {args.data}", file=sys.stderr)
        return 1
    sizes = [min(int(s), len(files)) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        work = Path(tmp)
        model, kind = model_dir(work)
        if args.torch:
            model, kind = without_graph(model, work), f"{kind}, torch engine"
        print(
            f"scan throughput: FracAtlas test split ({len(files)} JPEGs), model {kind}, "
            f"device {args.device}, threads {args.threads or 'auto'}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'images':>6} {'reports':<8} {'scan+analyse':>13} {'end to end':>11} "
            f"{'wall s':>7} {'CPU/img':>8} {'peak RSS':>9} {'PDF':>8}"
        )
        for size in sizes:
            folder = link_folder(files[:size], work / f"n{size}")
            for pdf in (False, True):
                out = work / f"out{size}{'pdf' if pdf else ''}"
                out.mkdir()
                r = run_scan(folder, model, args.device, args.threads, pdf, out)
                print(
                    f"{r['images']:>6} {'CSV+PDF' if pdf else 'CSV':<8} "
                    f"{r['rate']:>8.1f} im/s {r['wall_rate']:>6.1f} im/s {r['wall']:>7.1f} "
                    f"{r['cpu_ms']:>5.0f} ms "
                    f"{r['peak_mib']:>6.0f} MiB {r['pdf_kib']:>5.0f} KiB"
                )
        print(f"target: >= {TARGET_RATE:.0f} images/s end to end; peak RSS level across sizes")
        if args.versus_pillow:
            chosen = files[: args.versus_pillow]
            versus_pillow(chosen, work, model, args.device, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
