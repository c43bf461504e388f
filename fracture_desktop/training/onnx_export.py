"""A model folder's network as one ONNX graph (``model.onnx``), for the ONNX Runtime engine.

The graph gives everything the app reads from one pass (docs/ARCHITECTURE.md, "Two
engines"): the logit, the localiser's raw maps, the domain check's three layers already
reduced to what ``domain.npz`` reads (the classifier's pooled input and the channel means of
the Grad-CAM and early layers), and the Grad-CAM map itself.

Grad-CAM needs the gradient of the logit with respect to the Grad-CAM layer, and an
inference runtime has no backward pass. For a head that is global average pooling then a
linear layer, Grad-CAM on the *last* feature map is the class activation map (Zhou et al.
2016): the pooling's gradient is the linear weights spread evenly. The app's Grad-CAM layer
is earlier, though (stride 16, chosen for its finer map; see each network's ``cam_layer``),
and the blocks after it are not linear, so the graph carries that gradient explicitly: the
layers after the Grad-CAM layer are run again while their pre-activations are kept, then the
gradient is carried back through them by transposed convolutions and the activations'
masks (:func:`_input_grad`, :func:`_lite_tail`, :func:`_fracture_net_tail`). That is the
arithmetic autograd does, written as forward operators that ONNX exports; the test suite
checks it against torch's Grad-CAM (``tests/inference/test_onnx_engine.py``). The nodes
that only the map needs go into the branch of an ``If`` on a boolean input (:func:`gated`),
so a pass without a heatmap costs what the plain forward pass costs (EfficientNet-Lite0 with
its box head, one thread: 21 ms of CPU per image, as a graph without the map; 32 ms when the
map's nodes ran on every pass). Networks whose tail is not written here (PaperCNN) get no
graph, and the app keeps the torch engine for them (:func:`graph_of` says why).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn
from torch.nn import functional as F

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.errors import ModelUnavailableError
from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.inference.card import (
    ONNX_FILE,
    ONNX_OPSET,
    ModelCard,
    with_onnx_graph,
    write_card,
)
from fracture_desktop.core.inference.domain import LAYERS
from fracture_desktop.core.inference.efficientnet_lite import (
    EfficientNetLite,
    EfficientNetLiteLocaliser,
    _MBConv,
    _SameConv,
)
from fracture_desktop.core.inference.engine import InferenceEngine
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.core.inference.models import FractureNet
from fracture_desktop.core.inference.onnx_engine import HEATMAP, INPUT, OUTPUTS, OnnxEngine

Tensor = torch.Tensor
#: A network up to its Grad-CAM layer: input -> the early layer's output, the features the
#: rest reads (the Grad-CAM layer's output last) and the localiser's raw maps (or None).
Front = Callable[[nn.Module, Tensor], tuple[Tensor, tuple[Tensor, ...], Tensor | None]]
#: The rest, from those features: logits (n,), the gradient of each image's logit with
#: respect to the Grad-CAM layer's output, and the classifier's input pooled (n, d).
Tail = Callable[[nn.Module, tuple[Tensor, ...]], tuple[Tensor, Tensor, Tensor]]


def _input_grad(conv: nn.Conv2d, grad: Tensor, size: tuple[int, int]) -> Tensor:
    """The gradient at the input of ``conv`` (``size`` rows, cols) from the gradient at its
    output: the transposed convolution with the same weights, cropped to the padding the
    forward pass added (TensorFlow's asymmetric "same" padding for :class:`_SameConv`)."""
    k, s = conv.kernel_size[0], conv.stride[0]
    if isinstance(conv, _SameConv) and s != 1:
        left, right, top, bottom = conv.pads(*size)
    else:
        pad_rows, pad_cols = conv.padding  # type: ignore[misc]  # ints for every conv here
        left, right, top, bottom = pad_cols, pad_cols, pad_rows, pad_rows
    rows, cols = grad.shape[-2:]
    extra = (
        size[0] + top + bottom - ((rows - 1) * s + k),
        size[1] + left + right - ((cols - 1) * s + k),
    )
    full = F.conv_transpose2d(
        grad, conv.weight, stride=s, groups=conv.groups, output_padding=extra
    )
    return full[..., top : top + size[0], left : left + size[1]]


def _relu6_mask(pre: Tensor) -> Tensor:
    """Where ReLU6 passes its gradient (strictly inside (0, 6), as torch's hardtanh)."""
    return ((pre > 0) & (pre < 6)).to(pre.dtype)


def _size(x: Tensor) -> tuple[int, int]:
    return int(x.shape[-2]), int(x.shape[-1])


def _mbconv(block: _MBConv, x: Tensor) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """A folded inverted-residual block's output, and the function that carries a gradient
    at its output back to its input."""
    expanded = block._expand_conv(x) if hasattr(block, "_expand_conv") else None
    y = F.relu6(expanded) if expanded is not None else x
    depthwise = block._depthwise_conv(y)
    z = F.relu6(depthwise)
    out = block._project_conv(z)
    if block.residual:
        out = x + out

    def back(grad: Tensor) -> Tensor:
        g = _input_grad(block._project_conv, grad, _size(z)) * _relu6_mask(depthwise)
        g = _input_grad(block._depthwise_conv, g, _size(y))
        if expanded is not None:
            g = _input_grad(block._expand_conv, g * _relu6_mask(expanded), _size(x))
        return g + grad if block.residual else g

    return out, back


def _lite_tail(net: nn.Module, taps: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """EfficientNet-Lite after its Grad-CAM layer: the remaining blocks, the 1 x 1 head,
    average pooling and the linear classifier, forward then back."""
    assert isinstance(net, EfficientNetLite)
    x, backs = taps[-1], []
    for block in net._blocks[net.variant.last_block(4) + 1 :]:
        x, back = _mbconv(block, x)
        backs.append(back)
    head = net._conv_head(x)
    features = F.relu6(head)
    pooled = features.mean(dim=(2, 3))
    logit = net._fc(pooled).squeeze(1)
    # d logit / d features: the classifier's weights spread evenly over the pooled cells.
    spread = net._fc.weight.reshape(1, -1, 1, 1) / (features.shape[-2] * features.shape[-1])
    grad = _input_grad(net._conv_head, spread * _relu6_mask(head), _size(x))
    for back in reversed(backs):
        grad = back(grad)
    return logit, grad, pooled


def _fracture_net_tail(net: nn.Module, taps: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """FractureNet after its Grad-CAM layer: the last stage (a strided convolution and
    residual blocks), mean and max pooling, the linear head, forward then back."""
    assert isinstance(net, FractureNet)
    a = taps[-1]
    stage = net.stages[-1]
    down = stage[0][0]  # conv, folded batch norm, ReLU
    pre = down(a)
    x = F.relu(pre)
    saved = []  # per residual block: its convolutions, input, inner and summed activations
    for block in stage[1:]:
        first, second = block.body[0][0], block.body[1]
        inner = first(x)
        summed = x + second(F.relu(inner))
        saved.append((first, second, x, inner, summed))
        x = F.relu(summed)
    channels, cells = x.shape[1], x.shape[-2] * x.shape[-1]
    peak = x.amax(dim=(2, 3), keepdim=True)
    pooled = torch.cat([x.mean(dim=(2, 3)), peak.flatten(1)], dim=1)
    linear = net.head[1]
    logit = linear(pooled).squeeze(1)
    w = linear.weight.reshape(1, -1, 1, 1)
    # Mean pooling spreads its weight evenly; max pooling gives it to the peak cells,
    # shared evenly between ties (as torch's amax does).
    at_peak = (x == peak).to(x.dtype)
    grad = w[:, :channels] / cells + w[:, channels:] * at_peak / at_peak.sum((2, 3), True)
    for first, second, before, inner, summed in reversed(saved):
        g = grad * (summed > 0).to(grad.dtype)
        inner_grad = _input_grad(second, g, _size(inner)) * (inner > 0).to(g.dtype)
        grad = g + _input_grad(first, inner_grad, _size(before))
    grad = _input_grad(down, grad * (pre > 0).to(grad.dtype), _size(a))
    return logit, grad, pooled


def _lite_front(
    net: nn.Module, x: Tensor
) -> tuple[Tensor, tuple[Tensor, ...], Tensor | None]:
    """EfficientNet-Lite up to its Grad-CAM layer: the early layer's output, the stride-4,
    -8 and -16 features (the last is the Grad-CAM layer's), and the localiser's raw maps
    (None without one)."""
    assert isinstance(net, EfficientNetLite)
    x = net._stem(x)
    outputs = []
    for block in net._blocks[: net.variant.last_block(4) + 1]:
        x = block(x)
        outputs.append(x)
    taps = (*(outputs[net.variant.last_block(stage)] for stage in (1, 2)), x)
    maps = None
    if isinstance(net, EfficientNetLiteLocaliser):
        maps = net._localiser(taps)
    return taps[0], taps, maps


def _fracture_net_front(
    net: nn.Module, x: Tensor
) -> tuple[Tensor, tuple[Tensor, ...], Tensor | None]:
    assert isinstance(net, FractureNet)
    early = net.stages[0](net.stem(x - 0.5))
    a = early
    for stage in net.stages[1:-1]:
        a = stage(a)
    return early, (a,), None


def graph_of(model: nn.Module) -> nn.Module:
    """The graph module of a folded network (:func:`~fracture_desktop.core.inference.engine.
    frozen`), mirror-averaged or not.

    Raises
    ------
    ModelUnavailableError
        The network's tail after its Grad-CAM layer is not written here: keep torch for it.
    """
    net = model.net if isinstance(model, MirrorAverage) else model
    if any(isinstance(m, nn.BatchNorm2d) for m in net.modules()):
        # The tails below skip the batch norms, which folding made identities.
        raise ValueError("export a network whose batch norms are folded (engine.frozen)")
    front: Front
    tail: Tail
    if isinstance(net, EfficientNetLite):
        front, tail = _lite_front, _lite_tail
    elif isinstance(net, FractureNet):
        front, tail = _fracture_net_front, _fracture_net_tail
    else:
        raise ModelUnavailableError(
            f"no ONNX graph for {type(net).__name__}: its Grad-CAM tail is not written out; "
            "the app keeps torch for it"
        )
    return _Graph(net, front, tail, isinstance(model, MirrorAverage)).eval()


class _Graph(nn.Module):
    """One image in, :data:`~fracture_desktop.core.inference.onnx_engine.OUTPUTS` out."""

    def __init__(
        self,
        net: nn.Module,
        front: Front,
        tail: Tail,
        mirror: bool,
    ) -> None:
        super().__init__()
        self.net, self.front, self.tail, self.mirror = net, front, tail, mirror

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        views = torch.cat([x, x.flip(-1)]) if self.mirror else x
        early, taps, maps = self.front(self.net, views)
        logits, grad, embedding = self.tail(self.net, taps)
        a = taps[-1]
        # Grad-CAM: channel weights are the gradient's means; views share the mean logit.
        weights = grad.mean(dim=(2, 3), keepdim=True) / views.shape[0] * x.shape[0]
        cam = F.relu((weights * a).sum(dim=1))
        features = {"embedding": embedding, "cam_layer": a.mean(dim=(2, 3)),
                    "early": early.mean(dim=(2, 3))}  # fmt: skip
        if self.mirror:
            n = x.shape[0]
            logits = (logits[:n] + logits[n:]) / 2
            cam = (cam[:n] + cam[n:].flip(-1)) / 2
            features = {k: (v[:n] + v[n:]) / 2 for k, v in features.items()}
        out = (logits, cam, *(features[name] for name in LAYERS))
        return out if maps is None else (*out, maps)


def export_onnx(model_dir: Path) -> ModelCard:
    """Write ``model.onnx`` into a model folder and its sha256 into the card.

    The weights are verified against the card first (the torch engine loads them); the
    graph is then run by ONNX Runtime on a random input and compared with torch before the
    card names it.

    Raises
    ------
    ModelUnavailableError
        No graph can be made for this network, or ONNX Runtime disagrees with torch.
    """
    engine = InferenceEngine.load(Path(model_dir), "cpu", domain=False)
    card = engine.card
    if card.mirror_average and card.localiser is not None:
        raise ModelUnavailableError("a mirror-averaged localiser has no graph (nor torch path)")
    graph = graph_of(engine.model)
    spec = card.input_spec
    seeded = torch.Generator().manual_seed(0)
    x = torch.rand(1, spec.channels, spec.size, spec.size, generator=seeded)
    with torch.no_grad():
        # A localising network's graph gives its maps, whether or not the card reads boxes.
        names = [*OUTPUTS, "maps"][: len(graph(x))]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter (the one that writes opset 17) warns that it is
        # deprecated and about shapes it records as constants: the graph is for one size.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (x,),
            buffer,
            input_names=[INPUT],
            output_names=names,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    path = card.directory / ONNX_FILE
    with atomic_write(path, overwrite=True) as f:
        model = gated(onnx.load_from_string(buffer.getvalue()))
        f.write(without_empty_inputs(model).SerializeToString())
    updated = with_onnx_graph(card, ONNX_FILE, file_sha256(path))
    _check_agreement(engine, OnnxEngine.open(updated, domain=False), x)
    write_card(updated)
    return updated


def without_empty_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with the empty names that end some nodes' inputs removed, branches too.

    An optional input left out may be written as ``""`` or omitted: the same graph. The
    exporter writes ``Pad(x, pads, "")`` for TensorFlow's "same" padding, and ONNX Runtime
    folds a Pad into the convolution after it only when the Pad names no input it cannot
    read as a constant, the empty one included. Folded, EfficientNet-Lite0's forward pass
    takes about 12% less CPU (its five Pads, and the layout changes around them, are gone),
    with the same outputs to the bit.
    """

    def trim(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            while node.input and not node.input[-1]:
                del node.input[-1]
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    trim(attribute.g)

    trim(model.graph)
    onnx.checker.check_model(model)
    return model


def gated(model: onnx.ModelProto, output: str = "cam", flag: str = HEATMAP) -> onnx.ModelProto:
    """``model`` with the nodes that only ``output`` needs moved into the ``then`` branch of
    an ``If`` on a new boolean input ``flag``; its ``else`` branch gives a 1 x 1 x 1 zero.

    ONNX Runtime runs every node of a graph whatever outputs are asked for; a branch not
    taken costs nothing. The branch reads the main graph's values (ONNX's outer scope).
    """
    graph = model.graph
    producer = {name: node for node in graph.node for name in node.output}

    def ancestors(names: list[str]) -> set[int]:
        seen: set[int] = set()
        stack = list(names)
        while stack:
            node = producer.get(stack.pop())
            if node is not None and id(node) not in seen:
                seen.add(id(node))
                stack.extend(node.input)
        return seen

    others = ancestors([o.name for o in graph.output if o.name != output])
    only = ancestors([output]) - others
    branch = [node for node in graph.node if id(node) in only]
    rest = [node for node in graph.node if id(node) not in only]
    computed, skipped = f"{output}_computed", f"{output}_skipped"
    for node in branch:
        node.output[:] = [computed if name == output else name for name in node.output]
    dims = ["n", "rows", "cols"]
    float_out = TensorProto.FLOAT
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1, 1, 1], [0.0])
    condition = helper.make_node(
        "If",
        [flag],
        [output],
        then_branch=helper.make_graph(
            branch, f"with_{output}", [], [helper.make_tensor_value_info(computed, float_out, dims)]
        ),
        else_branch=helper.make_graph(
            [helper.make_node("Constant", [], [skipped], value=zero)],
            f"without_{output}",
            [],
            [helper.make_tensor_value_info(skipped, float_out, dims)],
        ),
    )
    del graph.node[:]
    graph.node.extend([*rest, condition])
    graph.input.append(helper.make_tensor_value_info(flag, TensorProto.BOOL, []))
    shape = next(o for o in graph.output if o.name == output).type.tensor_type.shape
    for dim, name in zip(shape.dim, dims, strict=True):
        dim.dim_param = name  # its size depends on the branch taken
    onnx.checker.check_model(model)
    return model


def _check_agreement(torch_engine: InferenceEngine, onnx_engine: OnnxEngine, x: Tensor) -> None:
    """Refuse a graph whose logit or Grad-CAM map differs from torch's on ``x``."""
    values = x[0].numpy()
    theirs = onnx_engine._forward(values, heatmap=True)
    ours = torch_engine._forward(values, heatmap=True)
    assert theirs.cam is not None and ours.cam is not None
    cams = [c() for c in (theirs.cam, ours.cam)]
    cams = [c / c.max() if c.max() > 0 else c for c in cams]
    logit_gap = abs(theirs.logit - ours.logit)
    cam_gap = float(np.abs(cams[0] - cams[1]).max())
    if logit_gap > 1e-3 or cam_gap > 1e-3:
        raise ModelUnavailableError(
            "the ONNX graph does not agree with torch; not recorded in the card",
            f"logit differs by {logit_gap:.2g}, Grad-CAM map by {cam_gap:.2g}",
        )
