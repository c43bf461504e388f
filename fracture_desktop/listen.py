"""The ``listen`` command: a DICOM node that triages each study it receives.

The storage SCP (:class:`~fracture_desktop.core.node.receiver.StudyReceiver`) stores
instances under ``OUT/incoming/<study>/`` in pynetdicom's threads and queues each study
when the association that brought it ends. The main thread owns the model: it takes the
studies off the queue one at a time and runs the same job as ``scan`` (the folder scan,
the guarded decode and :func:`~fracture_desktop.core.triage.triage`), writing the SR, KOS
and GSPS under ``OUT/results/<study>/``, then sends them with C-STORE when ``--send-to``
is given. Every file is written atomically, so Ctrl+C (or SIGTERM) stops it with nothing
half-written; studies still queued stay in ``incoming`` and are listed in the log.
Exit codes: 0 stopped, 2 usage error, 3 no usable model, 5 cannot listen or write.
"""

from __future__ import annotations

import argparse
import logging
import queue
import signal
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from fracture_desktop.batch import (
    EXIT_NO_MODEL,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    load_engine,
)
from fracture_desktop.core.errors import FractureDesktopError, ModelError
from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.core.node.receiver import NodeConfig, StudyReceiver
from fracture_desktop.core.node.sender import Destination, send
from fracture_desktop.core.triage import TriageRequest, triage

if TYPE_CHECKING:
    from fracture_desktop.core.inference.prediction import Engine

log = logging.getLogger("fracture_desktop.node")
#: How often the main thread wakes to notice Ctrl+C while the queue is empty.
POLL_SECONDS = 0.5


def triage_study(
    uid: str,
    out: Path,
    engine: Engine,
    deidentify: bool,
    destination: Destination | None,
    ae_title: str,
) -> None:
    """Triage the instances received for study ``uid``; write and send its results."""
    folder = out / "incoming" / uid
    scan = scan_folder(folder)
    results = out / "results"
    results.mkdir(exist_ok=True)
    request = TriageRequest(
        records=scan.images,
        source=f"study {uid}",
        problems=scan.problems,
        deidentify=deidentify,
        dicom_dir=results,
    )
    result = triage(request, engine)
    dicom = result.dicom
    assert dicom is not None  # dicom_dir was given
    analysed = sum(e.finding.probability is not None for e in result.entries)
    flagged = sum(e.is_flagged for e in result.entries)
    log.info(
        "study %s: %d files, %d analysed, %d flagged, %d not analysed; %d result files",
        uid,
        len(result.entries),
        analysed,
        flagged,
        len(result.entries) - analysed,
        len(dicom.written),
    )
    for problem in (*scan.problems, *dicom.problems):
        log.warning("study %s: %s: %s", uid, problem.path.name, problem.reason)
    if destination is not None and dicom.written:
        statuses = send(list(dicom.written), destination, ae_title)
        for path, status in statuses.items():
            if status != 0:
                log.error("%s: %s answered status %#06x", path.name, destination, status & 0xFFFF)


def triage_safely(uid: str, incoming: Path, triage: Callable[[], None]) -> bool:
    """Run ``triage`` (study ``uid``'s :func:`triage_study`), logging any failure instead of
    raising it: the node keeps serving the studies that follow, and this one's instances
    stay in ``incoming``. Returns whether the study was triaged."""
    try:
        triage()
    except FractureDesktopError as exc:
        log.error("study %s not triaged: %s %s", uid, exc.reason, exc.details)
        return False
    except Exception:  # a defect, not a bad file: say where, and keep listening
        log.exception(
            "study %s not triaged: internal error; its instances are in %s", uid, incoming
        )
        return False
    return True


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_listen(args: argparse.Namespace) -> int:
    """Run ``fracture-desktop listen`` with parsed arguments; return the exit code."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    # Their INFO lines (each association's PDUs, each module highdicom copies: a dozen per
    # study) would bury the node's own one line per study.
    for chatty in ("pynetdicom", "highdicom"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        destination = Destination.parse(args.send_to) if args.send_to else None
    except ValueError as exc:
        log.error("--send-to: %s", exc)
        return EXIT_USAGE
    out = Path(args.out)
    try:
        (out / "incoming").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.error("cannot use %s: %s", out, exc)
        return EXIT_WRITE_FAILED
    try:
        engine = load_engine(args)
    except ModelError as exc:
        log.error("%s %s", exc.reason, exc.details)
        return EXIT_NO_MODEL
    studies: queue.Queue[str] = queue.Queue()
    config = NodeConfig(
        ae_title=args.ae_title,
        port=args.port,
        incoming=out / "incoming",
        host=args.host,
        allowed=tuple(args.allow or ()),
        max_bytes=int(args.max_mb * 1024 * 1024),
    )
    receiver = StudyReceiver(config, lambda uids: [studies.put(uid) for uid in uids])
    try:
        receiver.start()
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return EXIT_WRITE_FAILED
    # SIGTERM stops the node as Ctrl+C does; SIGINT is set too because a shell that starts
    # a job in the background starts it with SIGINT ignored, and Ctrl+C must still stop it.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    log.info(
        "listening on %s:%d as %s with %s%s",
        args.host,
        args.port,
        args.ae_title,
        engine.card.label,
        f", results to {destination}" if destination else "",
    )
    try:
        while True:
            try:
                uid = studies.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            study = (uid, out, engine, args.deidentify, destination, args.ae_title)
            triage_safely(uid, out / "incoming" / uid, partial(triage_study, *study))
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        receiver.stop()
    left = []
    while not studies.empty():
        left.append(studies.get())
    for uid in left:
        log.warning("study %s received but not triaged: its instances are in %s", uid, out)
    log.info("stopped")
    return EXIT_OK
