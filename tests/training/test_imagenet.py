"""EfficientNet-Lite: the registry's ImageNet weights load into our grey, one-logit networks."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from fracture_desktop.core.inference.efficientnet_lite import (
    EfficientNetLite0,
    EfficientNetLite0Localiser,
)
from fracture_desktop.core.inference.models import FractureNet
from fracture_desktop.training.imagenet import (
    imagenet_state,
    load_imagenet,
    pretrained,
)


@pytest.fixture(scope="module")
def lite0_state() -> dict[str, torch.Tensor]:
    return imagenet_state()


def test_grey_stem_sees_what_the_rgb_stem_saw(lite0_state: dict[str, torch.Tensor]) -> None:
    model = pretrained(EfficientNetLite0())
    grey = torch.rand(1, 1, 64, 48)
    rgb_weight = lite0_state["_conv_stem.weight"]
    # TensorFlow's "same" padding for a 3x3 stride-2 kernel on even sizes: bottom/right only.
    rgb = F.conv2d(F.pad(grey.expand(-1, 3, -1, -1), [0, 1, 0, 1]), rgb_weight, stride=2)
    torch.testing.assert_close(model._conv_stem(grey), rgb)
    assert model._conv_stem(grey).shape[-2:] == (32, 24)
    # Every other ImageNet tensor arrives unchanged; only the classifier is new.
    depthwise = "_blocks.15._depthwise_conv.weight"
    assert torch.equal(model.state_dict()[depthwise], lite0_state[depthwise])
    assert model._fc.out_features == 1


def test_other_weights_are_refused(lite0_state: dict[str, torch.Tensor]) -> None:
    with pytest.raises(ValueError, match="not EfficientNetLite0 weights"):
        load_imagenet(EfficientNetLite0(), FractureNet().state_dict())
    # The same names with other shapes (a wider network's) are refused too.
    wider = dict(lite0_state)
    wider["_bn1.running_mean"] = torch.cat([wider["_bn1.running_mean"]] * 2)
    with pytest.raises(ValueError, match="other shapes"):
        load_imagenet(EfficientNetLite0(), wider)


def test_the_localising_lite0_starts_from_imagenet_with_a_fresh_head(
    lite0_state: dict[str, torch.Tensor],
) -> None:
    model = pretrained(EfficientNetLite0Localiser())
    depthwise = "_blocks.4._depthwise_conv.weight"  # a stride-8 tap of the head
    assert torch.equal(model.state_dict()[depthwise], lite0_state[depthwise])
    # The head starts at the fracture prior, not at an ImageNet tensor.
    assert torch.allclose(model._localiser.objectness.bias, torch.tensor(-4.6))
