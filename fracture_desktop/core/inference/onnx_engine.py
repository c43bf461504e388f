"""The ONNX Runtime engine: a model folder's graph (``model.onnx``) run on the CPU, no torch.

The viewer, ``scan``, ``validate`` and ``--self-test`` read with it
(:func:`~fracture_desktop.core.inference.engines.load_engine` picks it when the folder has a
graph): the runtime imports in a fraction of torch's time and ships in a fraction of its
size, and gives the same :class:`~fracture_desktop.core.inference.prediction.Prediction`
(``tests/inference/test_onnx_engine.py`` holds the two engines to it). The graph is written
by ``export-onnx`` (:mod:`fracture_desktop.training.onnx_export`): one pass gives the logit,
the domain check's reduced layers, the Grad-CAM map and, for a localiser, its raw maps.
Like the torch engine it is meant to be owned by one worker thread; opened with
``parallel_images``, that thread may score :attr:`~.prediction.Engine.lanes` images at once
from helper threads (ONNX Runtime's ``run`` is safe to call from several threads on one
session).
"""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fracture_desktop.core.errors import ModelIntegrityError, ModelUnavailableError
from fracture_desktop.core.inference.card import ModelCard, default_model_dir, load_card, onnx_graph
from fracture_desktop.core.inference.domain import LAYERS, DomainCheck, load_domain_check
from fracture_desktop.core.inference.prediction import Engine, Forward, Heatmap, check_weights

#: The graph's input (one image, the card's input shape) and its outputs, in order: the
#: logit, the Grad-CAM map on the Grad-CAM layer's grid, the domain check's layers by name
#: (:data:`~fracture_desktop.core.inference.domain.LAYERS`); a localiser adds ``maps``.
INPUT = "image"
#: The graph's second input: whether to compute the Grad-CAM map (its nodes sit in an ``If``
#: branch, so a pass without it costs the plain forward pass).
HEATMAP = "heatmap"
OUTPUTS = ("logit", "cam", *LAYERS)


class OnnxEngine(Engine):
    """A verified ONNX graph ready to score images on the CPU.

    Use :meth:`load` or :meth:`open`; the constructor takes already-checked parts.
    """

    runtime = f"ONNX Runtime {ort.__version__}"

    def __init__(
        self,
        card: ModelCard,
        session: ort.InferenceSession,
        domain: DomainCheck | None = None,
        lanes: int = 1,
    ) -> None:
        super().__init__(card, "cpu", domain)
        self.session = session
        self.lanes = lanes
        self._outputs = [o.name for o in session.get_outputs()]

    @classmethod
    def load(
        cls,
        model_dir: Path | None = None,
        threads: int | None = None,
        domain: bool = True,
        parallel_images: bool = False,
    ) -> OnnxEngine:
        """Open the graph of the model in ``model_dir`` (default: :func:`default_model_dir`).

        Raises
        ------
        ModelUnavailableError
            Card or graph missing, a graph ONNX Runtime cannot open.
        ModelIntegrityError
            The graph's sha256 (or the domain check's, or the weights' where present)
            differs from the card's.
        """
        return cls.open(
            load_card(model_dir or default_model_dir()), threads, domain, parallel_images
        )

    @classmethod
    def open(
        cls,
        card: ModelCard,
        threads: int | None = None,
        domain: bool = True,
        parallel_images: bool = False,
    ) -> OnnxEngine:
        """Open the graph ``card`` names: see :meth:`load`.

        ``threads`` are ONNX Runtime's intra-op threads; None follows ``OMP_NUM_THREADS``
        when set, else the runtime's default (one per physical core). With
        ``parallel_images`` (batch jobs), ``threads`` images are scored at once on one
        thread each (:attr:`lanes`) instead: one image's layers are too small to share
        between threads, whose hand-offs cost a tenth of the pass, while separate images
        need none (``scan`` of the FracAtlas test split: 71 images/s against 49 on 2 cores).
        """
        graph = onnx_graph(card)
        if graph is None:
            raise ModelUnavailableError(f"{card.id} has no ONNX graph in {card.directory}")
        if card.weights_path.exists():  # optional here: the desktop build ships the graph only
            check_weights(card)
        path, expected = graph
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = f"the model graph cannot be read: {exc.strerror or exc}"
            raise ModelUnavailableError(reason, str(path)) from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ModelIntegrityError(
                "the model graph does not match its model card; refusing to use it",
                f"{path}: sha256 {actual}, card says {expected}",
            )
        check = None
        if domain and card.domain_file:
            check = load_domain_check(card.directory / card.domain_file, card.domain_sha256)
        lanes = threads if parallel_images and threads else 1
        try:
            session = ort.InferenceSession(
                data,
                _session_options(1 if lanes > 1 else threads),
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # ONNX Runtime raises its own types for a bad graph
            raise ModelUnavailableError(
                "the model graph cannot be opened", f"{path}: {exc!r}"[:500]
            ) from exc
        names = {o.name for o in session.get_outputs()}
        needed = {*OUTPUTS, *(("maps",) if card.localiser is not None else ())}
        if not needed <= names:
            raise ModelUnavailableError(
                "the model graph lacks outputs the app reads",
                f"{path}: missing {sorted(needed - names)}",
            )
        return cls(card, session, check, lanes)

    def _run(self, values: np.ndarray, cam: bool) -> dict[str, np.ndarray]:
        feed = {
            INPUT: np.ascontiguousarray(values, dtype=np.float32)[None],
            HEATMAP: np.array(cam),
        }
        return dict(zip(self._outputs, self.session.run(None, feed), strict=True))

    def _cam(self, values: np.ndarray) -> np.ndarray:
        return self._run(values, True)["cam"][0]

    def _forward(self, values: np.ndarray, heatmap: Heatmap) -> Forward:
        # Always: the map with the pass. Only for a flagged image: a second pass, with the
        # map, once the flag is known (most images are not flagged).
        out = self._run(values, heatmap is True)
        features = tuple(out[name] for name in self.domain.layers) if self.domain else ()
        cam = None
        if heatmap is True:
            cam = partial(np.asarray, out["cam"][0])
        elif heatmap:
            cam = partial(self._cam, values)
        return Forward(float(out["logit"][0]), out.get("maps"), features, cam)


def _session_options(threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    if threads is None:
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    options.intra_op_num_threads = max(0, threads)
    # One image at a time through a chain of layers: nothing for parallel branches to do.
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads that wait spin by default; on a busy machine they take the cores the next
    # image's decode needs (as torch's OpenMP threads did, see model_threads).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: its warnings are not the reader's business
    return options
