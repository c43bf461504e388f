"""Network definitions shipped with the app (torch only; no torchvision at run time).

Each network takes a float32 batch shaped by its :class:`InputSpec` and returns one logit per
image; the probability of fracture is ``sigmoid(logit / temperature)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.efficientnet_lite import (
    EfficientNetLite0,
    EfficientNetLite0Boxes,
    EfficientNetLite0Localiser,
)


class PaperCNN(nn.Module):
    """The custom CNN of arXiv 2509.06228, ported from its Keras description.

    Three blocks of Conv 3x3 (valid padding) -> ReLU -> BatchNorm -> MaxPool 2x2 -> Dropout,
    with 32/64/128 filters and dropout 0.2/0.3/0.4, then Dense 256 -> ReLU -> BatchNorm ->
    Dropout 0.5 -> Dense 1. Keras' BatchNormalization uses eps 1e-3 and momentum 0.99, which
    is torch momentum 0.01. Input 128 x 128 x 3 (the grey image repeated).
    """

    input_spec = InputSpec(size=128, letterbox=False, channels=3)

    def __init__(self) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_ch = 3
        for out_ch, drop in ((32, 0.2), (64, 0.3), (128, 0.4)):
            blocks += [
                nn.Conv2d(in_ch, out_ch, 3),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(out_ch, eps=1e-3, momentum=0.01),
                nn.MaxPool2d(2),
                nn.Dropout(drop),
            ]
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        # 128 -> conv 126 -> pool 63 -> conv 61 -> pool 30 -> conv 28 -> pool 14
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * 14 * 14, 256),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(256, eps=1e-3, momentum=0.01),
            nn.Dropout(0.5),
            nn.Linear(256, 1),
        )

    @property
    def cam_layer(self) -> nn.Module:
        """The last convolution block's output (14 x 14), for Grad-CAM."""
        return self.features

    @property
    def early_layer(self) -> nn.Module:
        """The first block's pooled output (63 x 63), for the domain check."""
        return self.features[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)).squeeze(1)


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (He et al. 2016, basic block)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn_relu(channels, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class FractureNet(nn.Module):
    """Our CNN: grey letterboxed input at 256 px, residual stages, global pooling.

    Design choices for FracAtlas on a 2-core CPU: a single grey channel (radiographs carry no
    colour), letterboxing so thin bones are not distorted, strided convolutions rather than
    early pooling to keep fine cortical detail, and global average + max pooling so that one
    small focal finding can still dominate the image-level score. About 1.7 M parameters.
    """

    input_spec = InputSpec(size=256, letterbox=True, channels=1)
    widths = (24, 32, 64, 128, 192)

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        w = self.widths
        self.stem = _conv_bn_relu(1, w[0], stride=2)
        stages: list[nn.Module] = []
        for i, blocks in enumerate((1, 2, 2, 1)):
            layers: list[nn.Module] = [_conv_bn_relu(w[i], w[i + 1], stride=2)]
            layers += [ResidualBlock(w[i + 1]) for _ in range(blocks)]
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * w[-1], 1))

    @property
    def cam_layer(self) -> nn.Module:
        """Grad-CAM's layer: the stage before last, at 1/16 of the input size.

        Chosen on ``val`` (40 fractured images with boxes): its map hit the fracture box
        three times as often as the last stage's coarser 1/32 map (pointing game 0.075 vs
        0.025). A property, so that the layer is not saved twice in the state_dict.
        """
        return self.stages[-2]

    @property
    def classifier(self) -> nn.Module:
        """The head that turns the pooled image embedding into the logit."""
        return self.head

    @property
    def early_layer(self) -> nn.Module:
        """The first stage, at 1/4 of the input size: for the domain check, which needs an
        early layer's view of texture and contrast."""
        return self.stages[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Centre the [0, 1] input: a fixed shift keeps the card's input rule simple.
        f = self.stages(self.stem(x - 0.5))
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)
        return self.head(pooled).squeeze(1)


#: Architectures the app can load by the card's ``architecture.name``.
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "paper_cnn": PaperCNN,
    "fracture_net": FractureNet,
    "efficientnet_lite0": EfficientNetLite0,
    "efficientnet_lite0_loc": EfficientNetLite0Localiser,
    "efficientnet_lite0_boxes": EfficientNetLite0Boxes,
}
