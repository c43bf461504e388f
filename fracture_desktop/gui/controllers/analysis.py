"""The CNN in one worker thread: model state, batch analysis, heatmaps, kept results.

The inference engine is not thread-safe, so it is created, used and dropped only inside this
controller's worker; torch is imported there, in the background once the viewer has opened.
Every score is written to the :class:`~fracture_desktop.core.results_store.ResultsStore` from
that worker, under the sha256 of the model that made it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from fracture_desktop.core.analysis import Analysis, analyse_each, analyse_record
from fracture_desktop.core.errors import ModelError
from fracture_desktop.core.findings import Finding, Thresholds
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.inference.card import (
    ModelCard,
    default_model_dir,
    load_card,
    missing_files,
)
from fracture_desktop.core.jobs import Cancelled, CancelToken
from fracture_desktop.core.prepared import PreparedCache
from fracture_desktop.core.results_store import ResultsStore, StoredResult, small_heatmap
from fracture_desktop.core.site_profile import thresholds_in_use
from fracture_desktop.gui.bridge import Worker

if TYPE_CHECKING:
    from fracture_desktop.core.inference.prediction import Engine

EngineFactory = Callable[[Path, str], "Engine"]


def _load_engine(model_dir: Path, device: str) -> Engine:
    # ONNX Runtime on the CPU; torch only for CUDA or a model folder without a graph.
    from fracture_desktop.core.inference.engines import load_engine
    from fracture_desktop.core.inference.prediction import model_threads
    from fracture_desktop.core.site_profile import use_site_profile

    engine = load_engine(model_dir, device, model_threads())
    use_site_profile(engine)
    return engine


class AnalysisController(QObject):
    """Runs the model over records and reports findings as they come.

    Parameters
    ----------
    worker : Worker
        The one thread that owns the engine.
    model_dir : Path, optional
        Defaults to :func:`~fracture_desktop.core.inference.card.default_model_dir`.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    engine_factory : callable, optional
        ``factory(model_dir, device) -> engine``; tests may pass their own.
    prepared : PreparedCache, optional
        Model inputs made when the images were decoded for their thumbnails.
    results : ResultsStore, optional
        Where scores are kept between sessions; None keeps nothing.
    """

    sig_model_state = Signal(object, str)  # ModelCard or None, why it is unavailable
    sig_engine_ready = Signal(str)  # the device the engine actually runs on
    sig_devices_known = Signal(tuple)  # the device choices this machine supports
    sig_finding = Signal(object)  # Finding
    sig_progress = Signal(int, int, float)  # done, total, remaining seconds (-1: unknown)
    sig_started = Signal(int)  # number of images
    sig_finished = Signal(bool)  # cancelled
    sig_heatmap_ready = Signal(object, object)  # Finding, heatmap array or None

    def __init__(
        self,
        worker: Worker,
        model_dir: Path | None = None,
        device: str = "auto",
        engine_factory: EngineFactory | None = None,
        prepared: PreparedCache | None = None,
        results: ResultsStore | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._prepared = prepared
        self._worker = worker
        self._results = results
        #: The current model's kept results by identity, read when its card is checked.
        self.stored: dict[str, StoredResult] = {}
        #: Other models' latest results by identity: shown marked as made by another model.
        self.stored_by_others: dict[str, StoredResult] = {}
        self.model_dir = model_dir or default_model_dir()
        self._device = device
        self._factory = engine_factory or _load_engine
        self._engine: Any = None  # lives in the worker thread only
        self._devices_known = False  # worker thread only
        self._cancel = CancelToken()
        self._generation = 0
        self.card: ModelCard | None = None
        #: The thresholds the model flags with here (its site profile's, else its card's),
        #: read with the card: kept results are flagged with them.
        self.thresholds: Thresholds | None = None
        self.unavailable_reason = "checking the model..."
        self.running = False
        self._preloaded = False  # preload asked for this model and device

    # -- model state ------------------------------------------------------------------------

    def check_model(self) -> None:
        """Read the model card in the worker (no torch) and report whether analysis is possible.

        When it is, the reading controller has the engine loaded and warmed in the
        background soon afterwards (:meth:`preload`).
        """

        model_dir = self.model_dir

        def job() -> tuple[ModelCard | None, str, dict, dict]:
            try:
                card = load_card(model_dir)
                missing = missing_files(card)
            except ModelError as exc:
                return None, exc.reason, {}, {}
            if missing:
                return card, f"{missing} in {card.directory}", {}, {}
            if self._results is None:
                return card, "", {}, {}
            mine = self._results.for_model(card.sha256)
            return card, "", mine, self._results.by_other_models(card.sha256)

        def done(result: tuple[ModelCard | None, str, dict, dict]) -> None:
            card, reason, mine, others = result
            if model_dir == self.model_dir:  # not superseded by a model switch meanwhile
                self.stored, self.stored_by_others = mine, others
                self.thresholds = None if card is None else thresholds_in_use(card)[0]
                self._set_state(card, reason)

        self._worker.submit(job, done)

    def set_model_dir(self, model_dir: Path) -> None:
        """Use the model in ``model_dir`` from the next job on.

        Its card is read and its kept results loaded in the worker; the engine is loaded
        afresh, which verifies the new weights' sha256 before any image is scored.
        """
        self.cancel()
        self.model_dir = Path(model_dir)
        self.card = None
        self._preloaded = False
        self.unavailable_reason = "checking the model..."
        self._worker.submit(self._drop_engine)
        self.check_model()

    def _set_state(self, card: ModelCard | None, reason: str) -> None:
        self.card = card
        self.unavailable_reason = reason
        self.sig_model_state.emit(card, reason)

    def preload(self) -> None:
        """Load and warm the engine in the worker before the first analysis is asked for.

        Importing the runtime and the first passes through the model hold the GIL in long
        stretches; paying for them ahead keeps them out of the first batch, where they would
        stall the viewer. A model that cannot be loaded is reported through the model state.
        Once per model and device, and only when the model is available: the reading
        controller calls it when the viewer has nothing more urgent to do.
        """
        if self._preloaded or not self.available:
            return
        self._preloaded = True

        def job() -> None:
            try:
                self.engine_in_worker()
            except ModelError:
                return  # engine_in_worker has reported why

        self._worker.submit(job)

    @property
    def input_spec(self) -> InputSpec | None:
        """The model's input once its card is read (any thread may ask)."""
        card = self.card
        return None if card is None else card.input_spec

    @property
    def available(self) -> bool:
        return self.card is not None and not self.unavailable_reason

    @property
    def device(self) -> str:
        return self._device

    def set_device(self, device: str) -> None:
        """Use ``device`` from the next job on (the engine is reloaded in the worker)."""
        self._device = device
        self._preloaded = False
        self._worker.submit(self._drop_engine)
        # A failed load on the previous device marked the model unavailable; look again.
        self.check_model()

    def _drop_engine(self) -> None:
        self._engine = None

    @property
    def results(self) -> ResultsStore | None:
        """Where results are kept between sessions (None: nowhere)."""
        return self._results

    @property
    def worker(self) -> Worker:
        """The thread that owns the engine: every job that uses it must run there."""
        return self._worker

    def engine_in_worker(self) -> Any:
        """The engine, loaded and warmed on first use; call it only from a job running in
        :attr:`worker`.

        Raises
        ------
        ModelError
            The model cannot be loaded; the model state is updated to say why.
        """
        if self._engine is None:
            try:
                self._engine = self._factory(self.model_dir, self._device)
            except ModelError as exc:
                reason, card = exc.reason, self.card
                self._worker.post(lambda: self._set_state(card, reason))
                raise
            finally:
                self._report_devices()
            self._engine.warm_up()
            runs_on = self._engine.runs_on
            self._worker.post(lambda: self.sig_engine_ready.emit(runs_on))
        return self._engine

    def _report_devices(self) -> None:
        """Say once which devices this machine offers."""
        if self._devices_known:
            return
        from fracture_desktop.core.inference.engines import available_devices

        self._devices_known = True
        devices = available_devices()
        self._worker.post(lambda: self.sig_devices_known.emit(devices))

    # -- batch analysis ---------------------------------------------------------------------

    def cancel(self) -> None:
        self._cancel.cancel()

    def analyse(self, records: list[ImageRecord]) -> None:
        """Analyse ``records`` in order; a running batch is cancelled first."""
        self._cancel.cancel()
        self._cancel = token = CancelToken()
        self._generation += 1
        generation = self._generation
        self.running = True
        self.sig_started.emit(len(records))
        post = self._worker.post

        def current() -> bool:
            return generation == self._generation

        def job() -> bool:
            start = time.monotonic()

            def on_finding(finding: Finding) -> None:
                post(lambda: current() and self.sig_finding.emit(finding))

            reused = 0

            def progress(done: int, total: int) -> None:
                elapsed = time.monotonic() - start
                remaining = elapsed / done * (total - done) if done else -1.0
                done, total = done + reused, total + reused
                post(lambda: current() and self.sig_progress.emit(done, total, remaining))

            try:
                token.raise_if_cancelled()
                engine = self.engine_in_worker()
                # A result kept earlier is found by the file's path, size and mtime (or its
                # UID) before the file is hashed again: shown, never scored twice.
                fresh = []
                for record in records:
                    kept = self._stored_for(record, engine)
                    if kept is None:
                        fresh.append(record)
                    else:
                        on_finding(kept)
                reused = len(records) - len(fresh)
                # Grad-CAM for the flagged images only (the forward pass is shared): kept with
                # their results, it lets a PDF report draw key images without the model. A
                # localiser's boxes, kept with every finding, take its place.
                analyses = analyse_each(
                    fresh,
                    engine,
                    heatmap="flagged" if engine.card.localiser is None else False,
                    progress=progress,
                    cancel=token,
                    prepared=self._prepared,
                )
                for analysis in analyses:
                    self.keep(analysis, engine)
                    on_finding(analysis.finding)
            except Cancelled:
                return True
            except Exception:
                # The worker reports the error; the batch is over either way.
                post(lambda: self._finish(generation, True))
                raise
            return False

        self._worker.submit(job, lambda cancelled: self._finish(generation, cancelled))

    def _stored_for(self, record: ImageRecord, engine: Any) -> Finding | None:
        """The kept result of ``record`` by this engine's weights, flagged with its
        thresholds (worker thread); None when there is none."""
        if self._results is None:
            return None
        kept = self._results.stored_for(record, engine.card.sha256)
        return None if kept is None else kept.finding(record.path, engine.thresholds)

    def keep(self, analysis: Analysis, engine: Any) -> None:
        """Keep a fresh score (worker thread); a finding reused, not scored, is not written."""
        prediction = analysis.prediction
        if prediction is not None:
            self.keep_finding(analysis.finding, engine, prediction.heatmap)

    def keep_finding(
        self, finding: Finding, engine: Any, heatmap: np.ndarray | None = None
    ) -> None:
        """Write a scored finding to the store (worker thread) and remember it for the viewer.

        ``engine`` is the one that scored it: a result is filed under the weights that made
        it, with the thresholds it was flagged with; a flagged image's ``heatmap`` is kept
        small (:func:`small_heatmap`). A write that fails is reported by the store, once; the
        analysis goes on.
        """
        if self._results is None or finding.probability is None or not finding.identity:
            return
        card: ModelCard = engine.card
        result = StoredResult(
            finding.identity,
            card.sha256,
            card.label,
            finding.flag,
            finding.probability,
            finding.warnings,
            str(finding.spacing_source) if finding.spacing_source else None,
            time.time(),
            small_heatmap(heatmap) if heatmap is not None and finding.flag.is_flagged else None,
            finding.boxes,
            finding.domain_score,
            engine.thresholds_source,
        )
        self._results.put(result, finding.path)

        def remember() -> None:
            if self.card is not None and self.card.sha256 == card.sha256:
                self.stored[result.identity] = result

        self._worker.post(remember)

    def _finish(self, generation: int, cancelled: bool) -> None:
        if generation == self._generation and self.running:
            self.running = False
            self.sig_finished.emit(cancelled)

    # -- heatmaps ---------------------------------------------------------------------------

    def request_heatmap(self, record: ImageRecord) -> None:
        """Score ``record`` with its Grad-CAM map; runs after any batch already queued."""

        def job() -> tuple[Finding, Any]:
            engine = self.engine_in_worker()
            analysis = analyse_record(engine, record, heatmap=True)
            self.keep(analysis, engine)
            prediction = analysis.prediction
            return analysis.finding, None if prediction is None else prediction.heatmap

        self._worker.submit(job, lambda result: self.sig_heatmap_ready.emit(*result))
