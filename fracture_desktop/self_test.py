"""``fracture-desktop --self-test``: prove an installation works end to end, with no window.

Loads and verifies the model (sha256 against its card), scans the bundled sample studies,
decodes every image (all DICOM codecs the samples use: JPEG 2000, 12-bit JPEG Extended, plain
JPEG), windows it, scores it, computes a Grad-CAM heatmap, writes a CSV and a PDF report and
the DICOM results (SR, KOS, GSPS, Secondary Capture) into a temporary folder, and reads the
SRs back. Run by ``make package`` on the frozen app, so a bundle that lost a decoder plugin,
a Qt-free import, reportlab's fonts or highdicom's tables fails before it is shipped.

Never imports Qt. Exit 0 when every check passes, 1 with a one-line reason otherwise.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

import numpy as np

import fracture_desktop
from fracture_desktop.core.analysis import analyse_record
from fracture_desktop.core.errors import FractureDesktopError
from fracture_desktop.core.findings import Flag
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.paths import build_info, resources_root
from fracture_desktop.core.report import (
    ModelIdentity,
    ReportContext,
    ReportEntry,
    flag_counts,
    key_image_of,
)
from fracture_desktop.core.triage import TriageRequest, collect, write_reports

if TYPE_CHECKING:  # the engine imports torch; it is imported when the test runs
    from fracture_desktop.core.inference.prediction import Engine

EXIT_OK = 0
EXIT_FAILED = 1
#: Largest difference allowed between the plain and the Grad-CAM pass's probability.
PROBABILITY_TOLERANCE = 1e-4
#: Files beside the samples that are not images (their credits and licences).
NOTES_SUFFIXES = (".md", ".txt")

T = TypeVar("T")


class SelfTestError(FractureDesktopError):
    """A self-test check failed."""


def samples_dir() -> Path:
    """The bundled sample studies (``resources/samples``)."""
    return resources_root() / "samples"


def _timed(label: str, step: Callable[[], T], out: TextIO) -> tuple[T, float]:
    """Run ``step``, announcing ``label`` first so a hang shows where it stopped."""
    print(f"  {label:<9}", end="", file=out, flush=True)
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


def check_heatmap(engine: Engine, entry: ReportEntry) -> ReportEntry:
    """Decode, window and score ``entry``'s image with Grad-CAM; check the map.

    Returns
    -------
    ReportEntry
        ``entry`` with a key image (display + heatmap overlay), so the PDF embeds one.

    Raises
    ------
    SelfTestError
        The map has the wrong shape or values, or the probability differs from the one
        the batch pass gave.
    """
    if entry.record is None:
        raise SelfTestError(f"{entry.path.name} has no scan record to analyse again")
    analysis = analyse_record(engine, entry.record, heatmap=True)
    image, prediction = analysis.image, analysis.prediction
    if image is None or prediction is None:
        raise SelfTestError(f"the Grad-CAM pass failed: {analysis.finding.error}")
    heat = prediction.heatmap
    if heat is None or heat.shape != image.shape:
        shape = None if heat is None else heat.shape
        raise SelfTestError(f"heatmap shape {shape} differs from the image's {image.shape}")
    if not np.isfinite(heat).all() or heat.min() < 0.0 or heat.max() > 1.0:
        raise SelfTestError("heatmap values are not finite numbers in [0, 1]")
    batch = entry.finding.probability
    if batch is None or abs(prediction.probability - batch) > PROBABILITY_TOLERANCE:
        raise SelfTestError(
            f"probability differs between passes: {prediction.probability} vs {batch}"
        )
    key = key_image_of(image, heat)
    return dataclasses.replace(entry, key_image=key)


def _write_reports(
    entries: Sequence[ReportEntry], request: TriageRequest, context: ReportContext
) -> tuple[int, int]:
    """Write both reports of ``request``; return their sizes in bytes (CSV, PDF)."""
    csv_path, pdf_path = request.csv_path, request.pdf_path
    assert csv_path is not None and pdf_path is not None
    write_reports(entries, request, context)
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    if len(lines) != len(entries) + 1:
        raise SelfTestError(f"the CSV has {len(lines)} lines for {len(entries)} images")
    if not pdf_path.read_bytes().startswith(b"%PDF-"):
        raise SelfTestError("the PDF report does not start with a PDF header")
    return csv_path.stat().st_size, pdf_path.stat().st_size


def _write_dicom(
    entries: Sequence[ReportEntry], context: ReportContext, folder: Path
) -> tuple[int, int]:
    """Write the DICOM results of ``entries`` (an SR per study; a KOS, GSPS and Secondary
    Capture where a DICOM image is flagged) into ``folder``, and read every SR back; return
    the numbers of files and studies.

    Raises
    ------
    SelfTestError
        An analysed DICOM sample is in no object, or an SR does not read back as ours with
        every image it references.
    """
    from fracture_desktop.core.dicom_out.read_back import OurReport, read_report
    from fracture_desktop.core.dicom_out.write import write_dicom_results

    folder.mkdir()
    results = write_dicom_results(entries, context.model, folder, capture=True)
    if results.problems:
        first = results.problems[0]
        raise SelfTestError(f"DICOM results left out {first.path.name}: {first.reason}")
    analysed = sum(e.finding.probability is not None for e in entries)
    if results.referenced + results.plain != analysed or not results.studies:
        raise SelfTestError(
            f"the DICOM results reference {results.referenced} of "
            f"{analysed - results.plain} analysed DICOM samples in {results.studies} studies"
        )
    reports = [read_report(path) for path in results.written]
    ours = [r for r in reports if isinstance(r, OurReport)]
    images = sum(len(r.images) for r in ours)
    if len(ours) != results.studies or images != results.referenced:
        raise SelfTestError(
            f"{len(ours)} of {results.studies} SRs read back, with "
            f"{images} of {results.referenced} images"
        )
    return len(results.written), results.studies


def _run(model_dir: Path | None, out: TextIO, tmp: Path) -> None:
    """The checks, in pipeline order, reports written into ``tmp``; raises on the first
    failure."""
    started = time.perf_counter()
    print(f"Fracture Desktop {fracture_desktop.__version__} self-test", file=out)
    info = build_info()
    if info is not None:
        print(f"  build    {info['git_commit']}, {info['built']}", file=out)

    def load() -> Engine:
        from fracture_desktop.core.inference.engines import load_engine

        return load_engine(model_dir, device="auto")

    engine, seconds = _timed("model", load, out)
    print(f"{engine.card.label}, sha256 verified, {engine.runs_on}  {seconds:.2f} s", file=out)

    folder = samples_dir()
    scan, seconds = _timed("scan", lambda: scan_folder(folder), out)
    print(f"{len(scan.images)} images in {folder}  {seconds:.2f} s", file=out)
    unreadable = [p for p in scan.problems if p.path.suffix.lower() not in NOTES_SUFFIXES]
    if unreadable:
        first = unreadable[0]
        raise SelfTestError(
            f"{len(unreadable)} unreadable sample(s), e.g. {first.path.name}: {first.reason}"
        )
    if not scan.images:
        raise SelfTestError(f"no sample images in {folder}")

    request = TriageRequest(
        scan.images, str(folder), csv_path=tmp / "self-test.csv", pdf_path=tmp / "self-test.pdf"
    )
    # The triage job's two stages, with the Grad-CAM check between them so that the PDF
    # embeds a key image with its heatmap whatever the model flags.
    entries, seconds = _timed("analyse", lambda: collect(request, engine), out)
    failed = [e for e in entries if e.flag is Flag.NOT_ANALYSED]
    if failed:
        raise SelfTestError(
            f"{len(failed)} sample(s) not analysed, e.g. {failed[0].path.name}: "
            f"{failed[0].finding.error}"
        )
    counts = ", ".join(f"{flag} {n}" for flag, n in flag_counts(entries).items() if n)
    per_image = seconds / len(entries)
    print(f"{counts}  {seconds:.2f} s ({per_image:.2f} s/image)", file=out)

    entries[0], seconds = _timed("heatmap", lambda: check_heatmap(engine, entries[0]), out)
    print(f"{entries[0].path.name}: Grad-CAM map checked  {seconds:.2f} s", file=out)

    model = ModelIdentity.from_card(engine.card)
    context = ReportContext(model, source=request.source, runs_on=engine.runs_on)
    (csv_size, pdf_size), seconds = _timed(
        "reports", lambda: _write_reports(entries, request, context), out
    )
    print(f"CSV {csv_size / 1024:.1f} kB, PDF {pdf_size / 1024:.1f} kB  {seconds:.2f} s", file=out)
    (files, studies), seconds = _timed(
        "dicom", lambda: _write_dicom(entries, context, tmp / "dicom"), out
    )
    print(f"{files} objects for {studies} studies, SRs read back  {seconds:.2f} s", file=out)
    print(f"self-test passed in {time.perf_counter() - started:.1f} s", file=out)


def run_self_test(
    model_dir: Path | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run every check and print a short summary.

    Parameters
    ----------
    model_dir : Path, optional
        Model folder to test; default: ``$FRACTURE_DESKTOP_MODEL_DIR``, else the shipped one.
    out, err : TextIO, optional
        Where the summary and the failure message go (default: stdout and stderr).

    Returns
    -------
    int
        0 when every check passed, 1 otherwise (the reason is printed on ``err``).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        with tempfile.TemporaryDirectory(prefix="fracture-self-test-") as tmp:
            _run(model_dir, out, Path(tmp))
    except FractureDesktopError as exc:
        print("", file=out, flush=True)
        print(f"self-test FAILED: {exc.reason}", file=err)
        if exc.details:
            print(f"  {exc.details}", file=err)
        return EXIT_FAILED
    except Exception:  # any other failure is a broken installation: show where
        print("", file=out, flush=True)
        print("self-test FAILED: unexpected error", file=err)
        traceback.print_exc(file=err)
        return EXIT_FAILED
    return EXIT_OK
