"""The torch engine: verified weights, one forward pass per image, optional Grad-CAM.

Training, ``evaluate`` and GPU inference (``--device cuda``) use it; on a CPU the app reads
with the ONNX Runtime engine (:mod:`~fracture_desktop.core.inference.onnx_engine`), which
gives the same :class:`~fracture_desktop.core.inference.prediction.Prediction`
(:mod:`~fracture_desktop.core.inference.engines` picks). Meant to be owned by one worker
thread (torch modules are not shared across threads here), so memory stays bounded to one
model.
"""

from __future__ import annotations

import pickle
import re
import warnings
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import torch

from fracture_desktop.core.errors import ModelIntegrityError, ModelUnavailableError
from fracture_desktop.core.inference.card import ModelCard, default_model_dir, load_card
from fracture_desktop.core.inference.devices import DEVICES
from fracture_desktop.core.inference.domain import DomainCheck, load_domain_check
from fracture_desktop.core.inference.folding import fold_batch_norms
from fracture_desktop.core.inference.localiser import LocalisingNetwork
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.core.inference.models import ARCHITECTURES
from fracture_desktop.core.inference.prediction import (
    Engine,
    Forward,
    Heatmap,
    Prediction,
    cam_to_image,
    check_weights,
    model_threads,
)
from fracture_desktop.core.inference.taps import features_of, tapped

# Callers written before the engines were split import these from here.
__all__ = [
    "Heatmap",
    "InferenceEngine",
    "Prediction",
    "cam_to_image",
    "frozen",
    "grad_cam",
    "model_threads",
    "resolve_device",
]

def frozen(model: torch.nn.Module, device: str = "cpu") -> torch.nn.Module:
    """``model`` ready for inference, in place: eval mode, batch norms folded, no gradients,
    weights channels-last.

    Every path that scores images (the app, ``scan``, evaluation and calibration of a run)
    goes through here, so they all run the same arithmetic.
    Channels-last weights make the convolutions run channels-last, which oneDNN computes
    faster on CPU: one thread, 256 px, EfficientNet-Lite0 about 24 -> 21 ms, FractureNet
    13.0 -> 12.4 ms (folding alone: 25.8 -> 23.7 and 13.3 -> 13.0).
    """
    folded = fold_batch_norms(model.eval()).requires_grad_(False)
    # torch's stubs lack the documented (device, memory_format) form of Module.to.
    return folded.to(device=device, memory_format=torch.channels_last)  # type: ignore[call-overload]


def resolve_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError("CUDA was requested but no CUDA device is available")
    return device


class InferenceEngine(Engine):
    """A loaded, verified torch model ready to score images.

    Use :meth:`load`; the constructor takes already-checked parts.
    """

    runtime = f"torch {torch.__version__.split('+')[0]}"

    def __init__(
        self,
        card: ModelCard,
        model: torch.nn.Module,
        device: str,
        domain: DomainCheck | None = None,
    ) -> None:
        super().__init__(card, device, domain)
        self.model = model

    @classmethod
    def load(
        cls,
        model_dir: Path | None = None,
        device: str = "auto",
        threads: int | None = None,
        domain: bool = True,
    ) -> InferenceEngine:
        """Load the model in ``model_dir`` onto ``device``.

        Parameters
        ----------
        model_dir : Path, optional
            Folder with ``model_card.json`` and the weights; default: :func:`default_model_dir`
            (``$FRACTURE_DESKTOP_MODEL_DIR``, else the shipped model).
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
        check_weights(card)
        check = None
        if domain and card.domain_file:
            check = load_domain_check(card.directory / card.domain_file, card.domain_sha256)
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
        return cls(card, frozen(model, resolved), resolved, check)

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

    def _forward(self, values: np.ndarray, heatmap: Heatmap) -> Forward:
        x = torch.from_numpy(values)[None].to(self.device)
        layers = self.domain.layers if self.domain is not None else ()
        maps = None
        with tapped(self.model, layers) as captured:
            if heatmap:
                logit, leaf = _hooked_forward(self.model, x)
            else:
                with torch.inference_mode():
                    logit, maps = self._logit_and_maps(x)
        features = tuple(features_of(self.model, captured)) if layers else ()
        if heatmap and self.card.localiser is not None:
            # Grad-CAM hooks the classifier's own forward; the maps need a pass of their own.
            with torch.inference_mode():
                maps = self._logit_and_maps(x)[1]
        # The backward pass runs only when the map is wanted.
        cam = partial(_cam, self.model, logit, leaf) if heatmap else None
        return Forward(float(logit.detach()[0]), maps, features, cam)

    def _logit_and_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, np.ndarray | None]:
        """Logits, and the localiser's raw maps (none without a localiser), from one pass."""
        if self.card.localiser is None:
            return self.model(x), None
        logit, raw = cast(LocalisingNetwork, self.model).forward_with_map(x)
        return logit, raw.float().cpu().numpy()


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
    logit, leaf = _hooked_forward(model, x)
    return logit.detach(), _cam(model, logit, leaf)


def _hooked_forward(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits, and ``model.cam_layer``'s output as a leaf that gradients can reach."""
    captured: list[torch.Tensor] = []

    def hook(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)
        captured.append(leaf)
        return leaf

    layer = model.cam_layer
    assert isinstance(layer, torch.nn.Module)  # every architecture names a layer
    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logit = model(x)
    finally:
        handle.remove()
    return logit, captured[0]


def _cam(model: torch.nn.Module, logit: torch.Tensor, leaf: torch.Tensor) -> np.ndarray:
    """The Grad-CAM map of the first image, from :func:`_hooked_forward`'s outputs."""
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(logit.sum(), leaf)
    activations = leaf.detach()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    maps = torch.relu((weights * activations).sum(dim=1))
    if isinstance(model, MirrorAverage):
        maps = model.merge_views(maps)
    cam = maps[0]
    cam = cam / cam.max() if float(cam.max()) > 0 else cam
    return cam.cpu().numpy().astype(np.float32)
