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

The mutants are made by :mod:`benchmarks.fuzz_mutations`; the scan's process tree is read by
:mod:`benchmarks.process_tree` (Linux only: from /proc).
"""

from __future__ import annotations

import argparse
import collections
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.fuzz_mutations import mutants, seed_files
from benchmarks.process_tree import kill_tree, tree_rss
from fracture_desktop.core.paths import DATA_DIR_ENV

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CONTROL_NAME = "control_ok.dcm"
PEAK_LIMIT_BYTES = 4 << 30
OK_EXITS = (0, 4)


# --- running the scan ----------------------------------------------------------------------


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
    # A data store of its own: the user's is neither read nor filled by the fuzzer.
    env = {**os.environ, DATA_DIR_ENV: str(out / "data")}
    child = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=out, env=env
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
        kill_tree(child.pid)
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
