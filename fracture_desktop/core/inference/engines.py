"""Which engine runs a model: ONNX Runtime on the CPU, torch for CUDA or where there is no
graph. Torch-free, so that choosing costs nothing (docs/ARCHITECTURE.md, "Two engines")."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from fracture_desktop.core.errors import ModelUnavailableError
from fracture_desktop.core.inference.card import default_model_dir, load_card, onnx_graph
from fracture_desktop.core.inference.devices import DEVICES
from fracture_desktop.core.inference.prediction import Engine, model_threads


def _installed(module: str) -> bool:
    return module in sys.modules or importlib.util.find_spec(module) is not None


def available_devices() -> tuple[str, ...]:
    """Device choices this machine supports, ``auto`` first.

    ``cuda`` is offered where torch is installed and an NVIDIA driver is present; asking
    torch itself would import it (over a second) just to build a menu, so a GPU that torch
    then cannot use is reported when it is chosen (``CUDA was requested but ...``).
    """
    torch = sys.modules.get("torch")
    if torch is not None:  # already paid for: ask it
        gpu = bool(torch.cuda.is_available())
    else:
        driver = Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi")
        gpu = bool(driver) and _installed("torch")
    return DEVICES if gpu else tuple(d for d in DEVICES if d != "cuda")


def load_engine(
    model_dir: Path | None = None,
    device: str = "auto",
    threads: int | None = None,
    domain: bool = True,
    parallel_images: bool = False,
) -> Engine:
    """The engine for the model in ``model_dir`` (default: :func:`default_model_dir`).

    ``auto`` and ``cpu`` run the folder's ONNX graph with ONNX Runtime when it has one;
    ``cuda``, and a folder without a graph, use torch (the ``train`` or ``gpu`` extra).
    ``parallel_images`` (batch jobs): ONNX Runtime scores ``threads`` images at once, one
    thread each (``Engine.lanes``); torch scores one image on ``threads`` threads.

    Raises
    ------
    ModelUnavailableError
        The card, weights or graph are missing or unusable, or torch is needed and absent.
    ModelIntegrityError
        A file's sha256 differs from the card's.
    ValueError
        An unknown device or a thread count below 1.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    card = load_card(model_dir or default_model_dir())
    if device != "cuda" and onnx_graph(card) is not None and _installed("onnxruntime"):
        from fracture_desktop.core.inference.onnx_engine import OnnxEngine

        return OnnxEngine.open(card, threads, domain, parallel_images)
    if not _installed("torch"):
        if device == "cuda":
            why, fix = "CUDA needs", "pip install 'fracture-desktop[gpu]', or use the CPU"
        else:
            why, fix = f"{card.id} has no ONNX graph and needs", "run export-onnx on its folder"
        raise ModelUnavailableError(f"{why} torch, which is not installed", fix)
    from fracture_desktop.core.inference.engine import InferenceEngine

    return InferenceEngine.load(card.directory, device, threads, domain)


def load_batch_engine(model_dir: Path | None, device: str, requested_threads: int) -> Engine:
    """:func:`load_engine` for a batch job (``scan``, ``listen``, ``validate``): one model
    thread per core unless ``requested_threads`` (:func:`~.prediction.model_threads`),
    each scoring its own image (``parallel_images``)."""
    threads = model_threads(requested_threads, batch=True)
    return load_engine(model_dir, device, threads, parallel_images=True)
