"""The reading session: what the reader has open and what is known about it, without Qt.

One :class:`ReadingSession` holds the folder, its image records and problems, the image on
show, the model's findings, image identities, the reader's decisions and the display state.
Views never keep their own copy: they change the session through its methods and redraw
when one of its :class:`SessionEvents` fires (napari's ``ViewerModel`` and ndv's model play
the same part). The session is changed on the GUI thread only; workers hand their results to
that thread first. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from fracture_desktop.core.decisions import Decision, DecisionStore
from fracture_desktop.core.display import DisplayState
from fracture_desktop.core.events import Event
from fracture_desktop.core.findings import Finding
from fracture_desktop.core.imaging.records import FileProblem, ImageRecord, ScanResult
from fracture_desktop.core.measure import Measurement


class SessionEvents:
    """What a :class:`ReadingSession` announces; each attribute is an :class:`Event`.

    Attributes
    ----------
    opened : Event[Path]
        A folder was opened: everything known about the previous one is gone.
    records_added : Event[tuple of ImageRecord]
        The scan found more images (in scan order).
    problem_added : Event[FileProblem]
        The scan found a file it cannot read.
    scan_finished : Event[ScanResult]
        The folder walk is over.
    current : Event[ImageRecord or None]
        Another image is on show (or none).
    frame : Event[int]
        Another frame of the image on show was asked for.
    finding : Event[Finding]
        The model's result for one image, new or updated.
    decision : Event[tuple of (Path, Decision or None)]
        The reader's decision about an image became known or changed.
    display : Event[DisplayState]
        The display state changed (the new state).
    """

    def __init__(self) -> None:
        self.opened: Event[Path] = Event()
        self.records_added: Event[tuple[ImageRecord, ...]] = Event()
        self.problem_added: Event[FileProblem] = Event()
        self.scan_finished: Event[ScanResult] = Event()
        self.current: Event[ImageRecord | None] = Event()
        self.frame: Event[int] = Event()
        self.finding: Event[Finding] = Event()
        self.decision: Event[tuple[Path, Decision | None]] = Event()
        self.display: Event[DisplayState] = Event()


class ReadingSession:
    """The state of one reading session.

    Parameters
    ----------
    decisions : DecisionStore
        Where reader decisions are kept (they outlive the session).
    display : DisplayState, optional
        The display choices to start from (the viewer restores them from its settings).

    Attributes
    ----------
    folder : Path or None
        The open folder.
    records : dict of Path to ImageRecord
        The images found so far, in scan order.
    problems : list of FileProblem
        Files the scan could not read.
    scan_done : bool
        The walk of :attr:`folder` is over.
    current : ImageRecord or None
        The image on show.
    frame : int
        The frame of :attr:`current` last asked for.
    findings : dict of Path to Finding
        The model's results so far.
    identities : dict of Path to str
        Image identities (SOP Instance UID or content hash), the keys of reader decisions.
    display : DisplayState
        The reader's display choices.
    measurements : dict of (Path, int) to tuple of Measurement
        The distances the reader drew on each image and frame, oldest first; they stay
        while the reader looks at other images, until another folder is opened.
    events : SessionEvents
        Subscribe here to hear about changes.
    """

    def __init__(self, decisions: DecisionStore, display: DisplayState | None = None) -> None:
        self.decisions = decisions
        self.events = SessionEvents()
        self.folder: Path | None = None
        self.records: dict[Path, ImageRecord] = {}
        self.problems: list[FileProblem] = []
        self.scan_done = False
        self.current: ImageRecord | None = None
        self.frame = 0
        self.findings: dict[Path, Finding] = {}
        self.identities: dict[Path, str] = {}
        self.display = display or DisplayState()
        self.measurements: dict[tuple[Path, int], tuple[Measurement, ...]] = {}

    # -- the folder -------------------------------------------------------------------------

    def open(self, folder: Path) -> None:
        """Start reading ``folder``: forget the previous folder's images and results."""
        self.folder = Path(folder)
        self.records.clear()
        self.problems.clear()
        self.findings.clear()
        self.identities.clear()
        self.measurements.clear()
        self.scan_done = False
        self.current, self.frame = None, 0
        self.events.opened.emit(self.folder)

    def add_records(self, records: list[ImageRecord] | tuple[ImageRecord, ...]) -> None:
        """Images the scan found."""
        for record in records:
            self.records[record.path] = record
        self.events.records_added.emit(tuple(records))

    def add_problem(self, problem: FileProblem) -> None:
        """A file the scan could not read."""
        self.problems.append(problem)
        self.events.problem_added.emit(problem)

    def finish_scan(self, result: ScanResult) -> None:
        self.scan_done = True
        self.events.scan_finished.emit(result)

    def missing_findings(self) -> int:
        """How many images have no finding yet."""
        return sum(path not in self.findings for path in self.records)

    # -- the image on show ------------------------------------------------------------------

    def show(self, record: ImageRecord | None) -> None:
        """Put ``record`` on show, at its first frame."""
        self.current, self.frame = record, 0
        self.events.current.emit(record)

    def set_frame(self, frame: int) -> None:
        """Ask for frame ``frame`` of the image on show (clamped to its frames)."""
        if self.current is None:
            return
        frame = max(0, min(self.current.frames - 1, frame))
        if frame != self.frame:
            self.frame = frame
            self.events.frame.emit(frame)

    def update_display(self, **changes: Any) -> None:
        """Change fields of :attr:`display` (see :class:`DisplayState`); fires only on change."""
        display = replace(self.display, **changes)
        if display != self.display or display.voi is not self.display.voi:
            self.display = display
            self.events.display.emit(display)

    def set_measurements(
        self, path: Path, frame: int, measurements: tuple[Measurement, ...]
    ) -> None:
        """The distances drawn on frame ``frame`` of the image at ``path`` (none: forgotten)."""
        if measurements:
            self.measurements[(path, frame)] = tuple(measurements)
        else:
            self.measurements.pop((path, frame), None)

    def measurements_of(self, path: Path, frame: int) -> tuple[Measurement, ...]:
        """The distances drawn on frame ``frame`` of the image at ``path``, oldest first."""
        return self.measurements.get((path, frame), ())

    # -- results and decisions --------------------------------------------------------------

    def set_identity(self, path: Path, identity: str) -> None:
        """The identity of the image at ``path``; announces a decision already on record."""
        if path not in self.records:
            return  # from a folder that is no longer open
        self.identities[path] = identity
        decision = self.decisions.get(identity)
        if decision is not None:
            self.events.decision.emit((path, decision))

    def add_finding(self, finding: Finding) -> bool:
        """Keep the model's result for one image; False when its folder is no longer open."""
        if finding.path not in self.records:
            return False
        self.findings[finding.path] = finding
        if finding.identity:
            self.identities[finding.path] = finding.identity
        self.events.finding.emit(finding)
        self.events.decision.emit((finding.path, self.decision_of(finding.path)))
        return True

    def forget_findings(self) -> list[Finding]:
        """Drop every finding (another model is in use now) and return them.

        No event fires: the findings are still shown, marked by the caller as another
        model's; the new model's results arrive as new findings.
        """
        dropped = list(self.findings.values())
        self.findings.clear()
        return dropped

    def decision_of(self, path: Path) -> Decision | None:
        """The reader's decision about the image at ``path``, if any."""
        identity = self.identities.get(path)
        return self.decisions.get(identity) if identity else None

    def decide(self, record: ImageRecord, decision: Decision | None) -> bool:
        """Record the reader's decision about ``record``'s flag (None clears it).

        Returns False, recording nothing, while the image's identity is not known yet.
        """
        identity = self.identities.get(record.path)
        if identity is None:
            return False
        self.decisions.set(identity, decision)
        self.events.decision.emit((record.path, decision))
        return True


def step_in(
    order: list[ImageRecord], current: ImageRecord | None, delta: int
) -> ImageRecord | None:
    """The image ``delta`` places from ``current`` in ``order``, stopping at either end.

    From no (or an unlisted) current image, stepping starts before the first.
    """
    if not order:
        return None
    i = order.index(current) if current in order else -1
    return order[max(0, min(len(order) - 1, i + delta))]


def series_step(
    order: list[ImageRecord], current: ImageRecord | None, delta: int
) -> ImageRecord | None:
    """The first image of the series ``delta`` series away from ``current``'s, in ``order``."""
    if not order or current not in order:
        return None
    firsts = [r for i, r in enumerate(order) if i == 0 or order[i - 1].series_uid != r.series_uid]
    here = order.index(current)
    current_first = max((r for r in firsts if order.index(r) <= here), key=order.index)
    return firsts[max(0, min(len(firsts) - 1, firsts.index(current_first) + delta))]


def neighbours(order: list[ImageRecord], record: ImageRecord) -> tuple[ImageRecord, ...]:
    """The images after and before ``record`` in ``order`` (to decode ahead)."""
    if record not in order:
        return ()
    i = order.index(record)
    return tuple(order[j] for j in (i + 1, i - 1) if 0 <= j < len(order))
