"""The headless ``scan`` command: analyse a folder, write CSV / PDF reports, print a summary.

The folder walk is :func:`~fracture_desktop.core.imaging.scan.scan_folder`; the analysis and
the reports are the triage job (:func:`~fracture_desktop.core.triage.triage`), the same the
viewer's export and ``--self-test`` run. This module adds the command's checks, progress
bars, summary and exit codes. Never imports Qt, so it runs over SSH and in CI. Progress
goes to stderr, the summary to stdout. Exit codes (also in docs/REPORTS.md):

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
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from fracture_desktop.core.atomic import (
    OutputExistsError,
    OutputWriteError,
    probe_writable,
)
from fracture_desktop.core.decisions import DecisionStore, open_decisions
from fracture_desktop.core.errors import FractureDesktopError, ModelError
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.report import ReportContext, ReportEntry, flag_counts
from fracture_desktop.core.report.deidentify import scrub
from fracture_desktop.core.results_store import ResultsStore
from fracture_desktop.core.site_profile import use_site_profile
from fracture_desktop.core.store import DataStore
from fracture_desktop.core.triage import ANALYSING, WRITING_PDF, TriageRequest, triage
from fracture_desktop.terminal import ProgressBar, StageBars, print_error

if TYPE_CHECKING:  # highdicom loads only when --dicom-out is given
    from fracture_desktop.core.dicom_out.write import DicomResults
    from fracture_desktop.core.inference.prediction import Engine

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NO_MODEL = 3
EXIT_NOTHING_ANALYSED = 4
EXIT_WRITE_FAILED = 5
EXIT_INTERRUPTED = 130


_error = partial(print_error, "scan")


def _warn(reason: str, details: str = "") -> None:
    print(f"scan: warning: {reason}" + (f"\n  {details}" if details else ""), file=sys.stderr)


def _request(args: argparse.Namespace, folder: Path) -> TriageRequest:
    """The triage asked for, its report paths (and the summary's) checked before any long
    work starts."""
    request = TriageRequest(
        records=(),
        source=os.path.abspath(folder),
        csv_path=args.csv,
        pdf_path=args.pdf,
        deidentify=args.deidentify,
        overwrite=args.overwrite,
        dicom_dir=args.dicom_out,
        secondary_capture=args.secondary_capture,
        summary_path=args.summary_json,
    )
    request.check_outputs()
    return request


def _report_paths(args: argparse.Namespace, request: TriageRequest) -> tuple[Path, ...]:
    """Every file the scan writes: the reports and the summary."""
    return request.outputs


def report_not_written(error: Callable[[str, str], None], exc: FractureDesktopError) -> int:
    """Say why a report was not written; return the exit code for it (docs/REPORTS.md).

    Parameters
    ----------
    error : callable
        Prints ``(reason, details)`` for the command, e.g. ``partial(print_error, "scan")``.
    exc : FractureDesktopError
        What stopped the write: an existing file without ``--overwrite`` is a usage error
        (:data:`EXIT_USAGE`), anything else a failed write (:data:`EXIT_WRITE_FAILED`).
    """
    if isinstance(exc, OutputExistsError):
        error(exc.reason, "")
        return EXIT_USAGE
    error(exc.reason, exc.details)
    return EXIT_WRITE_FAILED


def run_scan(args: argparse.Namespace) -> int:
    """Run ``fracture-desktop scan`` with parsed arguments; return the exit code."""
    folder = Path(args.folder)
    if not folder.exists():
        _error(f"{folder} does not exist")
        return EXIT_USAGE
    try:
        request = _request(args, folder)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except FractureDesktopError as exc:
        _error(exc.reason, exc.details)
        return EXIT_USAGE
    try:
        for path in _report_paths(args, request):
            probe_writable(path)  # permissions, read-only media: before the analysis
        if args.dicom_out is not None:
            probe_writable(args.dicom_out / "results")
    except OutputWriteError as exc:
        _error(exc.reason, exc.details)
        return EXIT_WRITE_FAILED
    try:
        return _scan(args, folder, request)
    except KeyboardInterrupt:
        print("\ninterrupted; no report was written", file=sys.stderr)
        return EXIT_INTERRUPTED


def load_engine(args: argparse.Namespace) -> Engine:
    """The model of ``--model``, ``--device`` and ``--threads``, with the site profile's
    thresholds unless ``--card-thresholds`` (used by ``scan`` and ``listen``).

    Raises
    ------
    ModelError
        No usable model.
    """
    from fracture_desktop.core.inference.engines import load_batch_engine

    engine = load_batch_engine(args.model, args.device, args.threads)
    if not args.card_thresholds:
        use_site_profile(engine)
    return engine


def _scan(args: argparse.Namespace, folder: Path, request: TriageRequest) -> int:
    # Load the engine here, after the cheap checks, and before the scan so that a missing
    # model fails in a second rather than after a long folder walk. A decoder worker starts
    # meanwhile, on the other core.
    default_guard().prestart()
    try:
        engine = load_engine(args)
    except ModelError as exc:
        _error(exc.reason, exc.details)
        return EXIT_NO_MODEL
    started = time.perf_counter()
    bar = ProgressBar("Finding", "files")
    scan = scan_folder(folder, progress=bar)
    bar.close()
    # A report written into the folder on an earlier run is not an image to list.
    # realpath, not resolve: a looping link among the problems must not raise.
    mine = {os.path.realpath(p) for p in _report_paths(args, request)}
    records = tuple(r for r in scan.images if os.path.realpath(r.path) not in mine)
    # Skipped files (a DICOMDIR) get a row too: the CSV has one row per file.
    listed = (*scan.problems, *scan.skipped)
    problems = tuple(p for p in listed if os.path.realpath(p.path) not in mine)
    if not records and not problems:
        _error(f"no images found in {folder}")
        return EXIT_NOTHING_ANALYSED
    request = replace(request, records=records, problems=problems)
    walked_in = time.perf_counter() - started
    # The user's data store: kept results are reused (a run that failed to write its
    # reports costs no model time when run again) and new scores are kept.
    store = DataStore()
    decisions = open_decisions(args.decisions) if args.decisions else DecisionStore(store)
    for notice in store.notices:
        _warn(notice.reason, notice.details)
    opened = len(store.notices)
    bars = StageBars({ANALYSING: ("Analysing", "images"), WRITING_PDF: ("Writing", "parts")})
    try:
        result = triage(request, engine, decisions, bars, results=ResultsStore(store))
    except FractureDesktopError as exc:
        return report_not_written(_error, exc)
    finally:
        bars.close()
    analysed_in = walked_in + result.analysis_seconds
    print_summary(
        result.entries,
        result.context,
        engine.runs_on,
        len(records),
        analysed_in,
        args,
        dicom=result.dicom,
    )
    for notice in store.notices[opened:]:
        _warn(notice.reason)  # a write that failed during the run: said at the end
    analysed = sum(e.finding.probability is not None for e in result.entries)
    return EXIT_OK if analysed else EXIT_NOTHING_ANALYSED


def print_summary(
    entries: Sequence[ReportEntry],
    context: ReportContext,
    device: str,
    images: int,
    seconds: float,
    args: argparse.Namespace,
    stream: TextIO | None = None,
    dicom: DicomResults | None = None,
) -> None:
    """The end-of-run summary: counts per flag, speed, where the reports went."""
    out = stream or sys.stdout
    counts = flag_counts(entries)
    print(f"Folder   {context.source}", file=out)
    print(f"Model    {context.model.label} on {device}", file=out)
    print(f"         {context.model.card_text}", file=out)
    print(f"Thresholds from the {context.model.thresholds_source}", file=out)
    for flag, count in counts.items():
        print(f"  {flag.value:<15} {count:>6}", file=out)
    print(f"  {'total':<15} {len(entries):>6}", file=out)
    rate = images / seconds if seconds > 0 else 0.0
    print(f"Time     {images} images in {seconds:.1f} s ({rate:.1f} images/s)", file=out)
    failed = [e for e in entries if e.flag is Flag.NOT_ANALYSED]
    for entry in failed[:10]:
        # De-identified, the console quotes nothing from the file either (docs/REPORTS.md).
        error = scrub(entry.finding.error) if args.deidentify else entry.finding.error
        print(f"  not analysed: {entry.path}: {error}", file=out)
    if len(failed) > 10:
        print(f"  ... and {len(failed) - 10} more (see the CSV)", file=out)
    if context.shift is not None and context.shift.warning:
        print(f"WARNING  {context.shift.message}", file=out)
    for label, path in (("CSV", args.csv), ("PDF", args.pdf), ("Summary", args.summary_json)):
        if path is not None:
            print(f"{label:<8} {path}", file=out)
    if dicom is not None:
        print_dicom_summary(dicom, args.dicom_out, out)


def print_dicom_summary(dicom: DicomResults, folder: object, out: TextIO) -> None:
    """What ``--dicom-out`` wrote, and which analysed images it could not reference."""
    print(
        f"DICOM    {len(dicom.written)} files (SR, KOS, GSPS, SC) for {dicom.studies} studies, "
        f"{dicom.referenced} images referenced, in {folder}",
        file=out,
    )
    if dicom.plain:
        print(
            f"  {dicom.plain} JPEG/PNG/TIFF/BMP images have no SOP instance to reference: "
            "CSV/PDF only",
            file=out,
        )
    for problem in dicom.problems:
        why = f" ({problem.details})" if problem.details else ""
        print(f"  not referenced: {problem.path}: {problem.reason}{why}", file=out)
