"""The inference engine: verified weights, one forward pass per image, optional Grad-CAM.

Meant to be owned by one worker thread (torch modules are not shared across threads here),
so memory stays bounded to one model.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fracture_desktop.core.errors import ModelIntegrityError, ModelUnavailableError
from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.findings import Flag, classify
from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.model_input import InputSpec, fit_box, model_input
from fracture_desktop.core.inference.card import (
    ModelCard,
    default_model_dir,
    load_card,
)
from fracture_desktop.core.inference.folding import fold_batch_norms
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.core.inference.models import ARCHITECTURES

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Prediction:
    """Calibrated probability of fracture, its flag, and (optionally) a heatmap.

    ``heatmap`` is float32 in [0, 1] with the image's own shape (rows, columns), so it
    overlays the original pixels directly; it is None unless asked for.
    """

    probability: float
    flag: Flag
    heatmap: np.ndarray | None = None


def available_devices() -> tuple[str, ...]:
    """Device choices this machine supports, ``auto`` first."""
    return DEVICES if torch.cuda.is_available() else tuple(d for d in DEVICES if d != "cuda")


def model_threads(requested: int = 0) -> int | None:
    """CPU threads for the model, by the app's policy (the viewer and ``scan`` alike).

    Parameters
    ----------
    requested : int
        Threads asked for; 0 or less means automatic.

    Returns
    -------
    int or None
        ``requested`` when positive. Automatic: None (keep torch's own choice) when the user
        set ``OMP_NUM_THREADS``, else one thread per core minus one core that decodes the next
        image, at most 4. One image at a time is too little work to keep many threads busy,
        and waiting OpenMP threads spin: on a busy 2-core machine a forward pass took 347 ms
        of CPU with two threads against 19 ms with one.
    """
    if requested > 0:
        return requested
    if "OMP_NUM_THREADS" in os.environ:
        return None
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def frozen(model: torch.nn.Module, device: str = "cpu") -> torch.nn.Module:
    """``model`` ready for inference, in place: eval mode, batch norms folded, no gradients,
    weights channels-last.

    Every path that scores images (the app, ``scan``, evaluation and calibration of a run,
    a distillation teacher) goes through here, so they all run the same arithmetic.
    Channels-last weights make the convolutions run channels-last, which oneDNN computes
    faster on CPU: one thread, 256 px, EfficientNet-Lite0 about 24 -> 21 ms, FractureNet
    13.0 -> 12.4 ms (folding alone: 25.8 -> 23.7 and 13.3 -> 13.0).
    """
    folded = fold_batch_norms(model.eval()).requires_grad_(False)
    return folded.to(device=device, memory_format=torch.channels_last)


def resolve_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError("CUDA was requested but no CUDA device is available")
    return device


class InferenceEngine:
    """A loaded, verified model ready to score images.

    Use :meth:`load`; the constructor takes already-checked parts.
    """

    def __init__(self, card: ModelCard, model: torch.nn.Module, device: str) -> None:
        self.card = card
        self.model = model
        self.device = device

    @classmethod
    def load(
        cls, model_dir: Path | None = None, device: str = "auto", threads: int | None = None
    ) -> InferenceEngine:
        """Load the model in ``model_dir`` (default: the shipped model) onto ``device``.

        Parameters
        ----------
        model_dir : Path, optional
            Folder with ``model_card.json`` and the weights; default: the shipped model.
        device : str
            ``auto``, ``cpu`` or ``cuda``.
        threads : int, optional
            CPU threads for torch's intra-op work (:func:`model_threads` gives the app's
            choice), set with ``torch.set_num_threads``: process-wide, so it applies to every
            model in the process. None leaves torch's setting as it is.

        Raises
        ------
        ModelUnavailableError
            Card or weights missing, unknown architecture, weights that do not fit.
        ModelIntegrityError
            The weights' sha256 differs from the card's.
        """
        card = load_card(model_dir or default_model_dir())
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
        if card.architecture not in ARCHITECTURES:
            raise ModelUnavailableError(f"unknown architecture {card.architecture!r}")
        resolved = resolve_device(device)
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be at least 1, not {threads}")
            torch.set_num_threads(threads)
        model = ARCHITECTURES[card.architecture]()
        try:
            with warnings.catch_warnings():
                # torch warns about the pickle protocol of a file it is about to refuse.
                warnings.simplefilter("ignore", UserWarning)
                state = torch.load(card.weights_path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            # weights_only refuses any object but tensors and plain containers before it is
            # built, so a payload never runs. torch's message suggests weights_only=False:
            # never shown, that is exactly what must not be done with such a file.
            raise ModelIntegrityError(
                "the model weights hold objects other than tensors; refusing to load them",
                f"{card.weights_path}: {_refused_global(str(exc))}",
            ) from exc
        except Exception as exc:  # truncated zip, wrong format, I/O error
            raise ModelUnavailableError(
                "the model weights cannot be loaded", f"{card.weights_path}: {exc!r}"[:500]
            ) from exc
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, ValueError, AttributeError) as exc:
            raise ModelUnavailableError(
                "the model weights do not fit the architecture", repr(exc)[:500]
            ) from exc
        if card.mirror_average:
            model = MirrorAverage(model)
        return cls(card, frozen(model, resolved), resolved)

    def warm_up(self) -> None:
        """Run one blank input through the model, forward and Grad-CAM.

        The first passes import the rest of torch and build its kernels, which holds the GIL
        for up to a few hundred milliseconds at a time; done here, in the thread that owns
        the engine and before any image is analysed, that cost never lands in a batch.
        """
        spec = self.card.input_spec
        x = torch.zeros(1, spec.channels, spec.size, spec.size, device=self.device)
        with torch.inference_mode():
            self.model(x)
        grad_cam(self.model, x)

    def probability(self, logit: torch.Tensor) -> torch.Tensor:
        """Temperature-scaled sigmoid (calibrated on ``val``)."""
        return torch.sigmoid(logit / self.card.temperature)

    def predict(self, image: LoadedImage, heatmap: bool = False) -> Prediction:
        """Score one image; with ``heatmap`` also compute its Grad-CAM map."""
        x = torch.from_numpy(model_input(image, self.card.input_spec))[None].to(self.device)
        if not heatmap:
            with torch.inference_mode():
                p = float(self.probability(self.model(x))[0])
            return Prediction(p, classify(p, self.card.thresholds))
        logit, cam = grad_cam(self.model, x)
        p = float(self.probability(logit)[0])
        heat = cam_to_image(cam, image.shape, self.card.input_spec)
        return Prediction(p, classify(p, self.card.thresholds), heat)


def _refused_global(message: str) -> str:
    """The object ``torch.load(weights_only=True)`` refused, from its message, if named."""
    found = re.search(r"GLOBAL (\S+)|global[^`']*[`']([\w.]+)", message)
    name = next((g for g in found.groups() if g), "") if found else ""
    return f"refused object {name}" if name else "refused an object that is not a tensor"


def grad_cam(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """Grad-CAM (Selvaraju et al. 2017) on ``model.cam_layer``: the logits and a [0, 1] map.

    The hook detaches the layer's output and makes it the only tensor requiring grad, so
    the backward pass runs through the layers after it alone: the map costs little more
    than the forward pass.
    """
    captured: list[torch.Tensor] = []

    def hook(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)
        captured.append(leaf)
        return leaf

    handle = model.cam_layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logit = model(x)
            (grad,) = torch.autograd.grad(logit.sum(), captured[0])
    finally:
        handle.remove()
    activations = captured[0].detach()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    maps = torch.relu((weights * activations).sum(dim=1))
    if isinstance(model, MirrorAverage):
        maps = model.merge_views(maps)
    cam = maps[0]
    cam = cam / cam.max() if float(cam.max()) > 0 else cam
    return logit.detach(), cam.cpu().numpy().astype(np.float32)


def cam_to_image(cam: np.ndarray, shape: tuple[int, int], spec: InputSpec) -> np.ndarray:
    """Map a model-space map to an image of ``shape`` (rows, cols): undo the letterbox."""
    full = np.asarray(
        Image.fromarray(cam).resize((spec.size, spec.size), Image.Resampling.BILINEAR)
    )
    top, left, rows, cols = fit_box(shape, spec.size, spec.letterbox)
    inner = np.ascontiguousarray(full[top : top + rows, left : left + cols])
    out = Image.fromarray(inner).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
