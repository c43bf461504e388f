"""The headless ``scan`` command: analyse a folder, write CSV / PDF reports, print a summary.

Never imports Qt, so it runs over SSH and in CI. Progress goes to stderr, the summary to
stdout. Exit codes (also in docs/REPORTS.md):

====  ==========================================================================
0     done: at least one image was analysed (others may be listed as not analysed)
2     usage error: bad arguments, FOLDER missing, a report exists without --overwrite
3     no usable model: missing, damaged (sha256 mismatch) or the device is unavailable
4     nothing could be analysed: no images found, or every image failed
5     a report could not be written (permissions, disk full; the folder is tried first)
130   interrupted (Ctrl-C); no partial report is left behind
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from fracture_desktop.core.decisions import DecisionStore
from fracture_desktop.core.errors import FractureDesktopError, ModelError
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report import (
    ModelIdentity,
    ReportContext,
    ReportEntry,
    ReportExistsError,
    ReportWriteError,
    check_writable,
    collect_entries,
    flag_counts,
    probe_writable,
    write_csv,
)
from fracture_desktop.terminal import ProgressBar

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NO_MODEL = 3
EXIT_NOTHING_ANALYSED = 4
EXIT_WRITE_FAILED = 5
EXIT_INTERRUPTED = 130


def _error(message: str, details: str = "") -> None:
    print(f"fracture-desktop scan: error: {message}", file=sys.stderr)
    if details:
        print(f"  {details}", file=sys.stderr)


def _outputs(args: argparse.Namespace) -> list[Path]:
    """The report paths asked for, checked before any long work starts."""
    outputs = [Path(p).resolve() for p in (args.csv, args.pdf) if p is not None]
    if len(set(outputs)) < len(outputs):
        raise ValueError("--csv and --pdf name the same file")
    for path in outputs:
        check_writable(path, args.overwrite)
    return outputs


def run_scan(args: argparse.Namespace) -> int:
    """Run ``fracture-desktop scan`` with parsed arguments; return the exit code."""
    folder = Path(args.folder)
    if not folder.exists():
        _error(f"{folder} does not exist")
        return EXIT_USAGE
    try:
        outputs = _outputs(args)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except FractureDesktopError as exc:
        _error(exc.reason, exc.details)
        return EXIT_USAGE
    try:
        for path in outputs:
            probe_writable(path)  # permissions, read-only media: before the analysis
    except ReportWriteError as exc:
        _error(exc.reason, exc.details)
        return EXIT_WRITE_FAILED
    try:
        return _scan(args, folder, outputs)
    except KeyboardInterrupt:
        print("\ninterrupted; no report was written", file=sys.stderr)
        return EXIT_INTERRUPTED


def _scan(args: argparse.Namespace, folder: Path, outputs: Sequence[Path]) -> int:
    # The engine imports torch: load it here, after the cheap checks, and before the scan
    # so that a missing model fails in a second rather than after a long folder walk.
    from fracture_desktop.core.inference.engine import InferenceEngine, model_threads

    try:
        engine = InferenceEngine.load(args.model, args.device, model_threads(args.threads))
    except ModelError as exc:
        _error(exc.reason, exc.details)
        return EXIT_NO_MODEL
    started = time.perf_counter()
    bar = ProgressBar("Finding", "files")
    scan = scan_folder(folder, progress=bar)
    bar.close()
    # A report written into the folder on an earlier run is not an image to list.
    # realpath, not resolve: a looping link among the problems must not raise.
    mine = {os.path.realpath(p) for p in outputs}
    records = [r for r in scan.images if os.path.realpath(r.path) not in mine]
    # Skipped files (a DICOMDIR) get a row too: the CSV has one row per file.
    listed = (*scan.problems, *scan.skipped)
    problems = [p for p in listed if os.path.realpath(p.path) not in mine]
    if not records and not problems:
        _error(f"no images found in {folder}")
        return EXIT_NOTHING_ANALYSED
    decisions = DecisionStore(args.decisions)
    bar = ProgressBar("Analysing", "images")
    entries = collect_entries(
        records, engine, problems, decisions, key_images=args.pdf is not None, progress=bar
    )
    bar.close()
    analysed_in = time.perf_counter() - started
    source = os.path.abspath(folder)
    context = ReportContext(ModelIdentity.from_card(engine.card), source=source)
    try:
        if args.csv is not None:
            write_csv(entries, args.csv, context, args.deidentify, args.overwrite)
        if args.pdf is not None:
            from fracture_desktop.core.report.pdf_report import write_pdf

            bar = ProgressBar("Writing", "parts")
            write_pdf(entries, args.pdf, context, args.deidentify, args.overwrite, bar)
            bar.close()
    except ReportExistsError as exc:
        _error(exc.reason)
        return EXIT_USAGE
    except FractureDesktopError as exc:
        _error(exc.reason, exc.details)
        return EXIT_WRITE_FAILED
    print_summary(entries, context, engine.device, len(records), analysed_in, args)
    analysed = sum(e.finding.probability is not None for e in entries)
    return EXIT_OK if analysed else EXIT_NOTHING_ANALYSED


def print_summary(
    entries: Sequence[ReportEntry],
    context: ReportContext,
    device: str,
    images: int,
    seconds: float,
    args: argparse.Namespace,
    stream: TextIO | None = None,
) -> None:
    """The end-of-run summary: counts per flag, speed, where the reports went."""
    out = stream or sys.stdout
    counts = flag_counts(entries)
    print(f"Folder   {context.source}", file=out)
    print(f"Model    {context.model.label} on {device}", file=out)
    for flag, count in counts.items():
        print(f"  {flag.value:<13} {count:>6}", file=out)
    print(f"  {'total':<13} {len(entries):>6}", file=out)
    rate = images / seconds if seconds > 0 else 0.0
    print(f"Time     {images} images in {seconds:.1f} s ({rate:.1f} images/s)", file=out)
    failed = [e for e in entries if e.flag is Flag.NOT_ANALYSED]
    for entry in failed[:10]:
        print(f"  not analysed: {entry.path}: {entry.finding.error}", file=out)
    if len(failed) > 10:
        print(f"  ... and {len(failed) - 10} more (see the CSV)", file=out)
    for label, path in (("CSV", args.csv), ("PDF", args.pdf)):
        if path is not None:
            print(f"{label:<8} {path}", file=out)
