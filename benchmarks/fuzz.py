"""A seeded mutation fuzzer for ``fracture-desktop scan``: hostile files in, promises checked.

Mutates real DICOM files (bit flips, bytes and lengths set to edge values, truncations,
spliced chunks, and header attributes rewritten with pydicom: sizes, transfer syntax,
rescale, windows, LUTs), writes them in batches beside one valid control image, and runs the
real ``scan`` command on each batch in a child process. For every batch it checks the
promises of docs/REPORTS.md ("The decoder guard"):

- the process exits 0 (or 4 when nothing was analysable), never dies or prints a traceback;
- it ends within the time limit (a hang otherwise);
- the CSV has one row per file (missing rows otherwise), the control is analysed;
- no probability is NaN or infinite;
- the resident memory of the scan's whole process tree stays under 4 GiB (sampled /proc).

The same seed gives the same mutants. Run::

    python -m benchmarks.fuzz --count 2000 --seed 0
    python -m benchmarks.fuzz --count 200 --reproducers FOLDERS --keep /tmp/mutants

Linux only (the memory of the process tree is read from /proc).
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CONTROL_NAME = "control_ok.dcm"
#: Seeds larger than this are skipped: they slow every batch without adding new parsers.
MAX_SEED_BYTES = 2 << 20
PEAK_LIMIT_BYTES = 4 << 30
OK_EXITS = (0, 4)
_SYNTAXES = (
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
)
_EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
_EDGE_WORDS = (0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFF0, 0xFFFFFFFF)
_EDGE_NUMBERS = ("0", "-1", "1e-45", "1e308", "nan", "inf", "-inf", "65535", "2147483648")


# --- mutations -----------------------------------------------------------------------------


def _spot(rng: random.Random, data: bytes) -> int:
    """An offset, half the time inside the first 2 KiB where the header lives."""
    limit = min(len(data), 2048) if rng.random() < 0.5 else len(data)
    return rng.randrange(max(1, limit))


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        at = _spot(rng, out)
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def set_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[_spot(rng, out)] = rng.choice(_EDGE_BYTES)
    return bytes(out)


def set_length(rng: random.Random, data: bytes) -> bytes:
    """An edge value written over 2 or 4 bytes: often a length, a VR or a tag."""
    out = bytearray(data)
    at = _spot(rng, out)
    word = rng.choice(_EDGE_WORDS)
    packed = struct.pack("<I", word) if rng.random() < 0.6 else struct.pack("<H", word & 0xFFFF)
    out[at : at + len(packed)] = packed
    return bytes(out[: len(data)])


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, max(2, len(data)))]


def splice(rng: random.Random, data: bytes) -> bytes:
    """Repeat or drop a chunk: shifted elements, repeated items, lost delimiters."""
    a = _spot(rng, data)
    b = min(len(data), a + rng.randint(1, 512))
    if rng.random() < 0.5:
        return data[:b] + data[a:b] + data[b:]
    return data[:a] + data[b:]


def _edit_dataset(rng: random.Random, ds: Dataset) -> None:
    """One or more header attributes set to hostile values."""
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(10)
        if choice == 0:
            ds.Rows = rng.choice((0, 1, ds.get("Rows", 1) + 1, 65535))
        elif choice == 1:
            ds.Columns = rng.choice((0, 1, ds.get("Columns", 1) + 1, 65535))
        elif choice == 2:
            ds.BitsAllocated = rng.choice((0, 1, 7, 12, 32, 64))
        elif choice == 3:
            ds.SamplesPerPixel = rng.choice((0, 2, 3, 4))
        elif choice == 4:
            ds.NumberOfFrames = rng.choice(("0", "-1", "1000000", "1A"))
        elif choice == 5:
            ds.PhotometricInterpretation = rng.choice(
                ("MONOCHROME1", "RGB", "PALETTE COLOR", "YBR_FULL_422", "XYZ")
            )
        elif choice == 6:
            ds.file_meta.TransferSyntaxUID = rng.choice(_SYNTAXES)
        elif choice == 7:
            ds.RescaleSlope = rng.choice(_EDGE_NUMBERS)
            ds.RescaleIntercept = rng.choice(_EDGE_NUMBERS)
        elif choice == 8:
            ds.WindowCenter = rng.choice(_EDGE_NUMBERS)
            ds.WindowWidth = rng.choice(_EDGE_NUMBERS)
            ds.VOILUTFunction = rng.choice(("LINEAR", "LINEAR_EXACT", "SIGMOID", "BOGUS"))
        else:
            item = Dataset()
            item.LUTDescriptor = [rng.choice((0, 1, 4, 65535)), rng.choice((0, -1, 100)), 0]
            item.LUTData = bytes(rng.choice((0, 8)))
            ds.VOILUTSequence = [item]


def edit_attributes(rng: random.Random, data: bytes) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the values are invalid on purpose
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            _edit_dataset(rng, ds)
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=False)
        return out.getvalue()
    except Exception:  # a seed pydicom cannot round-trip: fall back to a byte mutation
        return flip_bits(rng, data)


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip": flip_bits,
    "bytes": set_bytes,
    "length": set_length,
    "cut": truncate,
    "splice": splice,
    "attrs": edit_attributes,
}


def seed_files(data: Path) -> list[Path]:
    """DICOM files of the corpus small enough to mutate quickly, in a stable order."""
    found = []
    for path in sorted(data.rglob("*")):
        if not path.is_file() or path.suffix in (".tsv", ".md", ".txt", ".json", ".gz"):
            continue
        if path.stat().st_size > MAX_SEED_BYTES:
            continue
        with open(path, "rb") as f:
            head = f.read(132)
        if head[128:132] == b"DICM" or path.suffix == ".dcm":
            found.append(path)
    return found


def mutants(seeds: list[Path], count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` named mutants; the same ``seed`` gives the same bytes."""
    rng = random.Random(seed)
    cache: dict[Path, bytes] = {}
    names = sorted(MUTATIONS)
    for index in range(count):
        source = rng.randrange(len(seeds))
        path = seeds[source]
        if path not in cache:
            cache[path] = path.read_bytes()
        kind = rng.choice(names)
        yield f"m{index:05d}_{kind}_s{source:03d}", MUTATIONS[kind](rng, cache[path])


# --- running the scan ----------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree[ppid].append(int(entry))
    return tree


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants, from /proc."""
    tree = _children()
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(tree.get(current, ()))
        try:
            with open(f"/proc/{current}/statm", "rb") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


@dataclass
class BatchResult:
    folder: Path
    files: list[str]
    code: int | None  # None: killed after the time limit
    seconds: float
    peak_bytes: int
    rows: dict[str, dict[str, str]]
    stderr: str


def run_batch(
    folder: Path, model: Path | None, out: Path, limit_s: float, threads: int
) -> BatchResult:
    """``scan folder --csv`` in a child process, its tree's memory sampled every 50 ms."""
    csv_path = out / "r.csv"
    argv = [sys.executable, "-m", "fracture_desktop", "scan", str(folder), "--csv", str(csv_path)]
    argv += ["--device", "cpu", "--overwrite", "--decisions", str(out / "decisions.json")]
    argv += ["--threads", str(threads)]
    if model is not None:
        argv += ["--model", str(model)]
    files = sorted(p.name for p in folder.iterdir())
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=out
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, tree_rss(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = child.communicate(timeout=limit_s)
        code: int | None = child.returncode
    except subprocess.TimeoutExpired:
        _kill_tree(child.pid)
        _, stderr = child.communicate()
        code = None
    stop.set()
    sampler.join()
    rows = {}
    if csv_path.is_file():
        with open(csv_path, encoding="utf-8-sig", newline="") as f:
            rows = {Path(r["file_path"]).name: r for r in csv.DictReader(f)}
        csv_path.unlink()
    return BatchResult(folder, files, code, time.perf_counter() - started, peak, rows, stderr or "")


def _kill_tree(pid: int) -> None:
    tree = _children()
    stack, found = [pid], []
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(tree.get(current, ()))
    for current in reversed(found):
        try:
            os.kill(current, 9)
        except ProcessLookupError:
            continue


# --- judging -------------------------------------------------------------------------------


@dataclass
class Summary:
    """What the fuzzer found; ``failures`` lists every broken promise."""

    files: int = 0
    batches: int = 0
    deaths: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    missing_rows: list[str] = field(default_factory=list)
    non_finite: list[str] = field(default_factory=list)
    control_failed: list[str] = field(default_factory=list)
    peak_bytes: int = 0
    seconds: float = 0.0
    analysed: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def failures(self) -> list[str]:
        found = self.deaths + self.hangs + self.missing_rows + self.non_finite
        found += self.control_failed
        if self.peak_bytes > PEAK_LIMIT_BYTES:
            found.append(f"peak memory {self.peak_bytes / 2**30:.2f} GiB")
        return found

    def add(self, batch: BatchResult) -> None:
        self.batches += 1
        self.files += len(batch.files)
        self.seconds += batch.seconds
        self.peak_bytes = max(self.peak_bytes, batch.peak_bytes)
        where = batch.folder.name
        if batch.code is None:
            self.hangs.append(f"{where}: no end after {batch.seconds:.0f} s")
            return
        if batch.code not in OK_EXITS or "Traceback" in batch.stderr:
            tail = batch.stderr.strip().splitlines()[-1:] or [""]
            self.deaths.append(f"{where}: exit {batch.code}: {tail[0][:200]}")
            return
        for name in batch.files:
            row = batch.rows.get(name)
            if row is None:
                self.missing_rows.append(f"{where}/{name}")
                continue
            probability = row["probability"]
            if probability:
                self.analysed += 1
                if not math.isfinite(float(probability)):
                    self.non_finite.append(f"{where}/{name}: {probability}")
            else:
                self.reasons[row["error"] or "(no reason)"] += 1
        control = batch.rows.get(CONTROL_NAME)
        if CONTROL_NAME in batch.files and (control is None or not control["probability"]):
            self.control_failed.append(f"{where}: the control was not analysed")

    def print(self, out: Callable[[str], None] = print) -> None:
        out(
            f"{self.files} files in {self.batches} scans, {self.seconds:.0f} s; "
            f"{self.analysed} analysed, {sum(self.reasons.values())} listed with a reason"
        )
        out(f"  process deaths      {len(self.deaths)}")
        out(f"  hangs               {len(self.hangs)}")
        out(f"  missing rows        {len(self.missing_rows)}")
        out(f"  non-finite results  {len(self.non_finite)}")
        out(f"  control failures    {len(self.control_failed)}")
        out(f"  peak memory (scan process tree)  {self.peak_bytes / 2**20:.0f} MiB")
        out("  reasons given:")
        for reason, count in self.reasons.most_common():
            out(f"    {count:>5}  {reason}")
        for problem in self.failures[:50]:
            out(f"  FAILED: {problem}")


def fuzz(
    count: int,
    seed: int,
    data: Path,
    model: Path | None = None,
    batch_size: int = 100,
    limit_s: float = 900.0,
    reproducers: Path | None = None,
    keep: Path | None = None,
    threads: int = 1,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Run ``count`` mutants of ``data`` (plus each reproducer folder) through ``scan``."""
    seeds = seed_files(data)
    if not seeds:
        raise SystemExit(f"no DICOM files to mutate under {data}")
    control = _control(data)
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        out = Path(tmp) / "out"
        out.mkdir(parents=True)
        folders = list(_batches(mutants(seeds, count, seed), batch_size, work, control))
        if reproducers is not None:
            folders += _reproducer_folders(reproducers, work, control)
        for number, folder in enumerate(folders, start=1):
            result = run_batch(folder, model, out, limit_s, threads)
            summary.add(result)
            if progress is not None:
                progress(
                    f"scan {number}/{len(folders)} {folder.name}: exit {result.code}, "
                    f"{len(result.files)} files, {result.seconds:.1f} s, "
                    f"peak {result.peak_bytes / 2**20:.0f} MiB"
                )
    return summary


def _control(data: Path) -> Path:
    for candidate in (data / "pydicom_3.0.2" / "MR_small.dcm", *sorted(data.rglob("MR_small.dcm"))):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"no MR_small.dcm under {data} to use as the control image")


def _batches(
    made: Iterator[tuple[str, bytes]], size: int, work: Path, control: Path
) -> Iterator[Path]:
    folder: Path | None = None
    for index, (name, data) in enumerate(made):
        if index % size == 0:
            folder = work / f"batch{index // size:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(control, folder / CONTROL_NAME)
        assert folder is not None
        (folder / name).write_bytes(data)
        if index % size == size - 1:
            yield folder
            folder = None
    if folder is not None:
        yield folder


def _reproducer_folders(root: Path, work: Path, control: Path) -> list[Path]:
    folders = []
    for source in sorted(p for p in root.iterdir() if p.is_dir()):
        folder = shutil.copytree(source, work / source.name, dirs_exist_ok=True)
        if not (folder / CONTROL_NAME).exists():
            shutil.copy(control, folder / CONTROL_NAME)
        folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="mutants to make")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=SHARED / "dicom", help="DICOM to mutate")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: shipped)")
    parser.add_argument("--batch", type=int, default=100, help="files per scan")
    parser.add_argument("--limit", type=float, default=900.0, help="seconds per scan: a hang")
    parser.add_argument("--reproducers", type=Path, default=None, help="folder of hostile folders")
    parser.add_argument("--keep", type=Path, default=None, help="write the mutants here")
    parser.add_argument("--threads", type=int, default=1, help="model threads of each scan")
    args = parser.parse_args(argv)
    summary = fuzz(
        args.count,
        args.seed,
        args.data,
        args.model,
        args.batch,
        args.limit,
        args.reproducers,
        args.keep,
        args.threads,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(f"fuzz: {args.count} mutants of {args.data}, seed {args.seed}")
    summary.print()
    return 1 if summary.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
