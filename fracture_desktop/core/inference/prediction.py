"""What an engine gives, and the part of scoring every engine shares: no torch here.

Two engines run a model folder's network (docs/ARCHITECTURE.md, "Two engines"): the torch
engine (:mod:`~fracture_desktop.core.inference.engine`: training, ``evaluate``, a GPU) and the
ONNX Runtime engine (:mod:`~fracture_desktop.core.inference.onnx_engine`: the viewer, ``scan``,
``validate`` and ``--self-test`` on a CPU). Both subclass :class:`Engine`, so they take the same
``model_input``, flag with the same thresholds, read boxes and heatmaps the same way, and give
the same :class:`Prediction`; only the forward pass differs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from fracture_desktop.core.boxes import Box, decode_boxes, read_maps
from fracture_desktop.core.errors import ModelIntegrityError, ModelUnavailableError
from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.findings import CARD_THRESHOLDS, Flag, Thresholds, classify
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.model_input import InputSpec, fit_box, model_input
from fracture_desktop.core.inference.card import ModelCard
from fracture_desktop.core.inference.domain import DomainCheck
from fracture_desktop.core.prepared import PreparedImage

#: Whether :meth:`Engine.predict` computes a Grad-CAM map: never, always, or only for an
#: image that comes out flagged (fracture or doubt).
Heatmap = bool | Literal["flagged"]


@dataclass(frozen=True)
class Prediction:
    """Calibrated probability of fracture, its flag, and (optionally) a heatmap.

    ``heatmap`` is float32 in [0, 1] with the image's own shape (rows, columns), so it
    overlays the original pixels directly; it is None unless asked for. ``boxes`` are the
    localiser's suspected fractures in the stored image's pixels, highest score first;
    empty when the model has no localiser or finds nothing above its threshold.
    """

    probability: float
    flag: Flag
    heatmap: np.ndarray | None = None
    boxes: tuple[Box, ...] = ()
    #: From the model's domain check: above 1 the image lies outside the training images'
    #: domain (:mod:`~fracture_desktop.core.inference.domain`); None without a check.
    domain_score: float | None = None


@dataclass(frozen=True)
class Forward:
    """What one forward pass gives an engine, as numpy, before any flag is made.

    Attributes
    ----------
    logit : float
        The image's logit (the mean of both views for a mirror-averaged model).
    maps : ndarray or None
        The localiser's raw maps (1, channels, rows, cols); None without a localiser.
    features : list of ndarray
        The domain check's layers, each (1, d), in the check's order; empty without one.
    cam : callable or None
        Gives the Grad-CAM map on the model's grid (rows, cols), before normalisation,
        when called: only then does an engine that needs a backward pass run it. None when
        no heatmap was asked for.
    """

    logit: float
    maps: np.ndarray | None = None
    features: tuple[np.ndarray, ...] = ()
    cam: Callable[[], np.ndarray] | None = None


def model_threads(requested: int = 0, batch: bool = False) -> int | None:
    """CPU threads for the model, by the app's policy for the viewer and for batch jobs.

    Parameters
    ----------
    requested : int
        Threads asked for; 0 or less means automatic.
    batch : bool
        For ``scan`` and ``validate``, which have no window to keep responsive.

    Returns
    -------
    int or None
        ``requested`` when positive. Automatic: None (keep the runtime's own choice) when
        the user set ``OMP_NUM_THREADS``; else, for the viewer, one thread per core minus
        one core that decodes the next image and draws; for a batch job, one per core; at
        most 4 either way. One image at a time is too little work to keep many threads
        busy, and waiting OpenMP threads spin: on a busy 2-core machine a forward pass took
        347 ms of CPU with two threads against 19 ms with one. ONNX Runtime's threads are
        told not to spin (``onnx_engine``), and a batch job's read-ahead decodes a JPEG in
        about 1 ms, so there both cores score, each its own image
        (:func:`~.engines.load_batch_engine`): the FracAtlas test split's 523 JPEGs at 71
        images/s, against 49 with both threads on one image and 41 with one thread (2
        cores, idle; docs/PACKAGING.md).
    """
    if requested > 0:
        return requested
    if "OMP_NUM_THREADS" in os.environ:
        return None
    cores = os.cpu_count() or 2
    return max(1, min(4, cores if batch else cores - 1))


def check_weights(card: ModelCard) -> None:
    """Refuse a model folder whose weights differ from the sha256 its card records.

    The torch engine runs the weights; the ONNX engine runs the graph but still refuses a
    folder whose weights were changed, where they are present (the desktop build ships
    the graph alone): a folder whose files disagree with its card is not to be trusted.

    Raises
    ------
    ModelUnavailableError
        The weights are missing or unreadable.
    ModelIntegrityError
        Their sha256 differs from the card's.
    """
    if not card.weights_path.is_file():
        raise ModelUnavailableError(f"model weights missing: {card.weights_path}")
    try:
        actual = file_sha256(card.weights_path)
    except OSError as exc:
        reason = f"the model weights cannot be read: {exc.strerror or exc}"
        raise ModelUnavailableError(reason, str(card.weights_path)) from exc
    if actual != card.sha256:
        raise ModelIntegrityError(
            "the model weights do not match their model card; refusing to use them",
            f"{card.weights_path}: sha256 {actual}, card says {card.sha256}",
        )


def calibrated(logit: float, temperature: float) -> float:
    """Temperature-scaled sigmoid (calibrated on ``val``): the probability of fracture."""
    z = logit / temperature
    # Written both ways so that neither branch overflows.
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


class Engine:
    """A loaded, verified model ready to score images: what every engine shares.

    Subclasses load the network and implement :meth:`_forward` (and :meth:`warm_up`);
    flags, boxes, domain scores and heatmaps are made here from its :class:`Forward`.

    Attributes
    ----------
    card : ModelCard
        The model's card.
    device : str
        Where the network runs: ``cpu`` or ``cuda``.
    runtime : str
        What runs it, with its version (``"ONNX Runtime 1.22.0"``, ``"torch 2.7.1"``):
        shown with the device in the status bar, ``scan``'s summary and the PDF.
    domain : DomainCheck or None
        The model's domain check, None when it has none or it was not loaded.
    lanes : int
        Images that may be scored at once, each from its own thread: 1 unless the engine
        was opened to score several (ONNX Runtime only, :func:`~.engines.load_engine`).
    """

    runtime = ""
    lanes = 1

    def __init__(self, card: ModelCard, device: str, domain: DomainCheck | None = None) -> None:
        self.card = card
        self.device = device
        self.domain = domain
        #: The thresholds that make the flags, and what the outputs call them: the card's
        #: unless a site profile is in use (:meth:`use_thresholds`).
        self.thresholds = card.thresholds
        self.thresholds_source = CARD_THRESHOLDS

    @property
    def runs_on(self) -> str:
        """``"cpu, ONNX Runtime 1.22.0"``: the device and the runtime, for display."""
        return f"{self.device}, {self.runtime}"

    def use_thresholds(self, thresholds: Thresholds, source: str) -> None:
        """Flag with ``thresholds`` (a site profile's) instead of the card's; ``source``
        names them on every output."""
        self.thresholds = thresholds
        self.thresholds_source = source

    def warm_up(self) -> None:
        """Run one blank input through the model before any image is analysed."""
        spec = self.card.input_spec
        blank = np.zeros((spec.channels, spec.size, spec.size), np.float32)
        self._forward(blank, heatmap=True)

    def predict(self, image: LoadedImage, heatmap: Heatmap = False) -> Prediction:
        """Score one image; with ``heatmap`` also compute its Grad-CAM map.

        ``heatmap="flagged"`` computes the map only when the image comes out flagged (a
        report's key images). The domain check reads the layers of the same forward pass,
        so it costs only its own arithmetic (``benchmarks/domain_check.py``).
        """
        return self._predict(model_input(image, self.card.input_spec), image.shape, heatmap)

    def predict_prepared(self, prepared: PreparedImage, heatmap: Heatmap = False) -> Prediction:
        """Score an image from the model input made when it was decoded (no decode here).

        Raises
        ------
        ValueError
            ``prepared`` was made for another input size, letterboxing or channel count.
        """
        if prepared.spec != self.card.input_spec:
            raise ValueError(
                f"prepared for {prepared.spec}, the model takes {self.card.input_spec}"
            )
        return self._predict(prepared.values, prepared.shape, heatmap)

    def _forward(self, values: np.ndarray, heatmap: Heatmap) -> Forward:
        """One pass over one model input (channels, size, size); with ``heatmap`` (True or
        ``"flagged"``) its :attr:`Forward.cam` can give the Grad-CAM map."""
        raise NotImplementedError

    def _predict(self, values: np.ndarray, shape: tuple[int, int], heatmap: Heatmap) -> Prediction:
        out = self._forward(values, heatmap)
        p = calibrated(out.logit, self.card.temperature)
        domain_score = None
        if self.domain is not None:
            domain_score = float(self.domain.scores(list(out.features))[0])
        flag = classify(p, self.thresholds, domain_score)
        found = self._boxes(out.maps, shape, p)
        if not heatmap or (heatmap == "flagged" and not flag.is_flagged):
            return Prediction(p, flag, boxes=found, domain_score=domain_score)
        assert out.cam is not None  # asked for with the pass
        heat = cam_to_image(normalised(out.cam()), shape, self.card.input_spec)
        return Prediction(p, flag, heat, found, domain_score)

    def _boxes(
        self, maps: np.ndarray | None, shape: tuple[int, int], probability: float
    ) -> tuple[Box, ...]:
        """The localiser's boxes in the pixels of an image of ``shape``; none without one."""
        settings = self.card.localiser
        if settings is None or maps is None:
            return ()
        return decode_boxes(
            read_maps(maps)[0],
            shape,
            self.card.input_spec,
            settings.threshold,
            settings.max_boxes,
            settings.shrink,
            probability if settings.by_probability else 1.0,
        )


def normalised(cam: np.ndarray) -> np.ndarray:
    """A Grad-CAM map (rows, cols) scaled so that its peak is 1 (left as it is when all 0)."""
    cam = np.asarray(cam, dtype=np.float32)
    peak = float(cam.max())
    return cam / peak if peak > 0 else cam


def cam_to_image(cam: np.ndarray, shape: tuple[int, int], spec: InputSpec) -> np.ndarray:
    """Map a model-space map to an image of ``shape`` (rows, cols): undo the letterbox."""
    full = np.asarray(
        Image.fromarray(cam).resize((spec.size, spec.size), Image.Resampling.BILINEAR)
    )
    top, left, rows, cols = fit_box(shape, spec.size, spec.letterbox)
    inner = np.ascontiguousarray(full[top : top + rows, left : left + cols])
    out = Image.fromarray(inner).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
