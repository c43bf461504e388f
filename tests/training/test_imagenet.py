"""EfficientNet-Lite: the registry's ImageNet weights load into our grey, one-logit networks."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from fracture_desktop.core.inference.efficientnet_lite import (
    LITE0,
    LITE1,
    LITE2,
    EfficientNetLite0,
    EfficientNetLite0Localiser,
    EfficientNetLite2Localiser,
    EfficientNetLiteLocaliser,
    LiteVariant,
)
from fracture_desktop.core.inference.models import FractureNet
from fracture_desktop.training.architectures import architecture
from fracture_desktop.training.imagenet import (
    imagenet_state,
    load_imagenet,
    pretrained,
)


@pytest.fixture(scope="module")
def lite0_state() -> dict[str, torch.Tensor]:
    return imagenet_state(LITE0)


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


def test_other_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="not EfficientNetLite0 weights"):
        load_imagenet(EfficientNetLite0(), FractureNet().state_dict())
    # Lite1 and Lite2 have the same blocks; only their widths tell them apart.
    with pytest.raises(ValueError, match="other shapes"):
        load_imagenet(EfficientNetLite2Localiser(), imagenet_state(LITE1))


def test_the_localising_lite0_starts_from_imagenet_with_a_fresh_head(
    lite0_state: dict[str, torch.Tensor],
) -> None:
    model = pretrained(EfficientNetLite0Localiser())
    depthwise = "_blocks.4._depthwise_conv.weight"  # a stride-8 tap of the head
    assert torch.equal(model.state_dict()[depthwise], lite0_state[depthwise])
    # The head starts at the fracture prior, not at an ImageNet tensor.
    assert torch.allclose(model._localiser.objectness.bias, torch.tensor(-4.6))


@pytest.mark.parametrize(
    ("name", "variant", "tap_channels"),
    [
        ("efficientnet_lite1_loc", LITE1, (24, 40, 112)),
        ("efficientnet_lite2_loc", LITE2, (24, 48, 120)),
    ],
)
def test_the_larger_lites_start_from_their_own_imagenet_weights(
    name: str,
    variant: LiteVariant,
    tap_channels: tuple[int, int, int],
) -> None:
    model = architecture(name).build()
    assert isinstance(model, EfficientNetLiteLocaliser)
    state = imagenet_state(variant)
    # The last stride-16 block, where Grad-CAM reads: Lite0's index 10 is mid-stage here.
    depthwise = "_blocks.14._depthwise_conv.weight"
    assert torch.equal(model.state_dict()[depthwise], state[depthwise])
    assert model.cam_layer is model._blocks[14]
    taps, _ = model.pyramid(torch.rand(1, 1, 64, 64))
    assert tuple(t.shape[1] for t in taps) == tap_channels
    assert tuple(t.shape[-1] for t in taps) == (16, 8, 4)
    assert model.forward_with_map(torch.rand(2, 1, 64, 64))[1].shape == (2, 1, 16, 16)
