"""Scan a folder tree for images: headers only, streamed, grouped for the study browser.

Nothing is ever written into the scanned folder; files are opened read-only.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path

from fracture_desktop.core.errors import ImageLoadError, SkippedFile
from fracture_desktop.core.files import special_file_kind
from fracture_desktop.core.imaging.guard import default_guard, prefetch_image
from fracture_desktop.core.imaging.records import (
    STRUCTURED_REPORT,
    FileProblem,
    ImageRecord,
    Patient,
    ScanResult,
    Series,
    Study,
)
from fracture_desktop.core.jobs import Cancelled, CancelToken, ProgressCallback

#: Why a structured report is skipped: how :func:`reports_in` finds them again.
SR_SKIPPED = f"DICOM {STRUCTURED_REPORT}, not an image"


def scan_folder(
    root: Path | str,
    on_record: Callable[[ImageRecord], None] | None = None,
    on_problem: Callable[[FileProblem], None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    keep: bool = False,
) -> ScanResult:
    """Find every image under ``root`` and read its header, without decoding pixels.

    Files are recognised by content, whatever their names. Hidden files and folders (names
    starting with ".") are skipped; folder links are followed once (a link back up the
    tree is not a loop). Each record and problem is handed to the callbacks as soon as it
    is found, so a viewer can show the first image while the scan goes on.

    Parameters
    ----------
    root : Path or str
        Folder to scan (a single file is scanned as a one-file folder).
    on_record, on_problem : callable, optional
        Called in the scanning thread with each :class:`ImageRecord` / :class:`FileProblem`.
    progress : callable, optional
        ``progress(done, total)`` after each file.
    cancel : CancelToken, optional
        Checked between files; cancelling raises :class:`~fracture_desktop.core.jobs.Cancelled`.
    keep : bool
        A look-ahead: the headers read stay for a scan of the same folder soon after
        (:meth:`~fracture_desktop.core.imaging.guard.DecoderGuard.call_each`).

    Returns
    -------
    ScanResult
        Images grouped patient / study / series, sorted by Instance Number, then acquisition
        time, then path; problems and skipped files in path order.
    """
    root = Path(root)
    if root.is_dir():
        files, problems = _walk(root, cancel)
        files.sort()
        base = root
    else:
        files, problems, base = [root], [], root.parent
    for problem in problems:
        if on_problem is not None:
            on_problem(problem)
    records: list[ImageRecord] = []
    skipped: list[FileProblem] = []
    # In guarded worker processes: a header can crash or exhaust its parser.
    outcomes = default_guard().call_each(_read_record, files, base, keep=keep)
    for done, (path, outcome) in enumerate(outcomes, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if isinstance(outcome, SkippedFile):
            skipped.append(FileProblem(path, outcome.reason))
        elif isinstance(outcome, ImageLoadError):
            problem = FileProblem(path, outcome.reason, outcome.details)
            problems.append(problem)
            if on_problem is not None:
                on_problem(problem)
        else:
            records.append(outcome)
            if on_record is not None:
                on_record(outcome)
        if progress is not None:
            progress(done, len(files))
    problems.sort(key=lambda p: p.path)
    return ScanResult(
        root=root, patients=group(records), problems=tuple(problems), skipped=tuple(skipped)
    )


def prefetch_first_image(root: Path | str) -> None:
    """Find the image a viewer opening ``root`` shows first, and start decoding it.

    That is the first record :func:`scan_folder` finds: the study browser shows the first
    image of the scan's first batch. The viewer calls this before it imports Qt; its own
    scan and decode come a second later and take this look-ahead's headers and pixels
    (:meth:`~fracture_desktop.core.imaging.guard.DecoderGuard.prefetch`).
    """
    stop = CancelToken()
    first: list[ImageRecord] = []

    def found(record: ImageRecord) -> None:
        first.append(record)
        stop.cancel()

    with contextlib.suppress(Cancelled):
        scan_folder(root, found, cancel=stop, keep=True)
    if first:
        prefetch_image(first[0].path)


def reports_in(result: ScanResult) -> list[Path]:
    """The structured reports a scan found (skipped as documents), in path order."""
    return [p.path for p in result.skipped if p.reason == SR_SKIPPED]


def _walk(root: Path, cancel: CancelToken | None) -> tuple[list[Path], list[FileProblem]]:
    """Every non-hidden regular file below ``root``, and every other entry as a problem.

    Each real folder is entered once. FIFOs, sockets, devices, broken or looping links and
    folders that cannot be listed are problems with a reason, so that every entry a reader
    sees in the folder is accounted for in the report; none of them is ever opened.
    """
    files: list[Path] = []
    problems: list[FileProblem] = []
    seen: set[str] = set()
    stack = [root]
    while stack:
        if cancel is not None:
            cancel.raise_if_cancelled()
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    path = Path(entry.path)
                    try:
                        if entry.is_dir():
                            stack.append(path)
                        elif entry.is_file():
                            files.append(path)
                        else:
                            problems.append(FileProblem(path, not_a_file_reason(path)))
                    except OSError:
                        problems.append(FileProblem(path, not_a_file_reason(path)))
        except OSError as exc:
            reason = f"folder cannot be read: {exc.strerror or exc}"
            problems.append(FileProblem(folder, reason, str(exc)))
    return files, problems


def _read_record(path: Path, base: Path) -> ImageRecord:
    """:func:`~fracture_desktop.core.imaging.headers.read_record`, imported in the guarded
    worker that runs it: the process that scans need not load pydicom and the decoders (the
    viewer reaches its first image sooner)."""
    from fracture_desktop.core.imaging.headers import read_record

    return read_record(path, base)


def not_a_file_reason(path: Path) -> str:
    """Why a folder entry that is neither a folder nor a regular file is not read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link loops back on itself"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return "broken link: its target does not exist"
        return f"cannot be read: {exc.strerror or exc}"
    return f"{special_file_kind(mode)}, not a file"


def _image_order(record: ImageRecord) -> tuple[bool, int, str, str]:
    number = record.instance_number
    return (number is None, number or 0, record.acquisition_time, str(record.path))


def group(records: list[ImageRecord]) -> tuple[Patient, ...]:
    """Arrange records as patient / study / series, each level in a stable reading order."""
    tree: dict[tuple[str, str], dict[str, dict[str, list[ImageRecord]]]] = {}
    for r in records:
        studies = tree.setdefault((r.patient_id, r.patient_name), {})
        studies.setdefault(r.study_uid, {}).setdefault(r.series_uid, []).append(r)
    patients = []
    for (pid, name), studies in sorted(tree.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        built_studies = []
        for study_uid, series_map in studies.items():
            built_series = []
            for series_uid, images in series_map.items():
                images.sort(key=_image_order)
                first = images[0]
                built_series.append(
                    Series(series_uid, first.series_description, first.series_number, tuple(images))
                )
            built_series.sort(key=lambda s: (s.number is None, s.number or 0, s.description))
            first = built_series[0].images[0]
            built_studies.append(
                Study(study_uid, first.study_description, first.study_date, tuple(built_series))
            )
        built_studies.sort(key=lambda s: (s.date, s.description, s.uid))
        patients.append(Patient(name, pid, tuple(built_studies)))
    return tuple(patients)
