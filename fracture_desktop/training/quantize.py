"""An int8 graph of a model folder, and how it compares with the float32 graph on val.

ONNX Runtime's static quantisation (``quantize_static``, QDQ format, after
``quant_pre_process``) with per-channel int8 weights at 7 bits (``reduce_range``: on a CPU
without VNNI, U8S8 products can saturate) and uint8 activations whose ranges come from train
images made by the app's own preprocessing (through the training cache). The variants and
the rule that decides whether one ships are in docs/MODEL.md ("int8 graph for the
default"): the Grad-CAM branch (the graph's ``If``) stays float32 in all of them.

``python -m fracture_desktop.training.quantize --model DIR --data FA --variant A --out DIR``
writes a copy of the model folder whose card names the int8 graph, then scores val with
both graphs and prints the rule's numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from sklearn.metrics import roc_auc_score

from fracture_desktop.core.boxes import Box, _iou
from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.inference.card import load_card, onnx_graph, with_onnx_graph, write_card
from fracture_desktop.core.inference.onnx_engine import HEATMAP, INPUT, OnnxEngine
from fracture_desktop.core.inference.prediction import Prediction
from fracture_desktop.training.dataset import Sample, build_cache, load_samples

#: The int8 graph's file name in a model folder.
INT8_FILE = "model.int8.onnx"
#: Layers that variants B and C keep float32: the last before each output the app reads.
OUTPUT_LAYERS = (
    "/_conv_head/Conv",
    "/_fc/Gemm",
    "/_localiser/objectness/Conv",
    "/_localiser/size/Conv",
)
#: Calibration images run through the quantiser at a time (every tensor of each is held).
CALIBRATION_STRIDE = 4
VARIANTS = {
    "A": {"exclude": (), "method": CalibrationMethod.MinMax},
    "B": {"exclude": OUTPUT_LAYERS, "method": CalibrationMethod.MinMax},
    "C": {"exclude": OUTPUT_LAYERS, "method": CalibrationMethod.Percentile},
}


class _Inputs(CalibrationDataReader):
    """Feeds the calibration images one at a time, without the Grad-CAM branch, in the
    ranges the quantiser asks for (a few images at a time keeps its memory bounded)."""

    def __init__(self, inputs: np.ndarray, channels: int) -> None:
        self._inputs = inputs
        self._channels = channels
        self._items: Iterator[np.ndarray] = iter(inputs)

    def __len__(self) -> int:
        return len(self._inputs)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._items = iter(self._inputs[start_index:end_index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        values = next(self._items, None)
        if values is None:
            return None
        image = np.repeat(np.asarray(values, np.float32)[None, None], self._channels, axis=1)
        return {INPUT: image, HEATMAP: np.array(False)}


def calibration_samples(data: Path, count: int, seed: int) -> list[Sample]:
    """``count`` train images of the source ``data``, drawn with ``seed``, in file order."""
    train = [s for s in load_samples(data) if s.split == "train"]
    chosen = np.random.default_rng(seed).choice(len(train), size=count, replace=False)
    return [train[i] for i in sorted(chosen)]


def quantize_model(
    model_dir: Path, out_dir: Path, data: Path, variant: str, count: int, cache_dir: Path
) -> Path:
    """Copy ``model_dir`` to ``out_dir`` with an int8 graph that its card names.

    Returns
    -------
    Path
        ``out_dir``, loadable by :meth:`OnnxEngine.load`.
    """
    card = load_card(model_dir)
    graph = onnx_graph(card)
    if graph is None:
        raise ValueError(f"{model_dir} has no ONNX graph")
    shutil.copytree(model_dir, out_dir, dirs_exist_ok=True)
    settings = VARIANTS[variant]
    inputs = build_cache(calibration_samples(data, count, seed=0), card.input_spec, cache_dir)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(graph[0], prepared, skip_symbolic_shape=True)
        onnx.save(masks_from_activations(onnx.load(prepared)), prepared)
        quantize_static(
            prepared,
            out_dir / INT8_FILE,
            _Inputs(inputs, card.input_spec.channels),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv", "Gemm", "Clip", "Relu", "Add"],
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(settings["exclude"]),
            calibrate_method=settings["method"],
            extra_options={
                "CalibStridedMinMax": CALIBRATION_STRIDE,
                "CalibPercentile": 99.999,
                "CalibTensorRangeSymmetric": False,
            },
        )
    copied = load_card(out_dir)
    write_card(with_onnx_graph(copied, INT8_FILE, file_sha256(out_dir / INT8_FILE)))
    return out_dir


def masks_from_activations(model: onnx.ModelProto) -> onnx.ModelProto:
    """Point the Grad-CAM branch's ReLU6 masks at the activations instead of the
    pre-activations, in place, and return ``model``.

    The branch masks each gradient with ``(pre > 0) & (pre < 6)``, which equals
    ``(y > 0) & (y < 6)`` for ``y = clip(pre, 0, 6)``. Quantisation folds each ReLU6 into its
    convolution (the convolution's output takes the activation's range, not the wider
    pre-activation range, which would cost most of int8's resolution), and the
    pre-activation tensor then no longer exists for the branch to read.
    """
    graph = model.graph
    constants = {t.name: float(numpy_helper.to_array(t)) for t in graph.initializer if not t.dims}
    relu6 = {
        n.input[0]: n.output[0]
        for n in graph.node
        if n.op_type == "Clip" and [constants.get(b) for b in n.input[1:]] == [0.0, 6.0]
    }
    for node in graph.node:
        if node.op_type != "If":
            continue
        for branch in (a.g for a in node.attribute if a.g.node):
            for inner in branch.node:
                if inner.op_type in ("Greater", "Less"):
                    inner.input[0] = relu6.get(inner.input[0], inner.input[0])
    return model


def _boxes_agree(a: tuple[Box, ...], b: tuple[Box, ...]) -> bool:
    return len(a) == len(b) and all(_iou(x, y) >= 0.5 for x, y in zip(a, b, strict=True))


def compare_on_val(float_dir: Path, int8_dir: Path, data: Path) -> dict[str, Any]:
    """Score the source's val images with both folders' graphs as the app does (one
    decode each, card thresholds) and give the rule's numbers."""
    engines = [OnnxEngine.load(float_dir), OnnxEngine.load(int8_dir)]
    val = [s for s in load_samples(data) if s.split == "val"]
    pairs: list[tuple[Prediction, Prediction]] = []
    for sample in val:
        image = load_image(sample.path)
        first, second = (engine.predict(image) for engine in engines)
        pairs.append((first, second))
    labels = np.array([s.label for s in val])
    probs = np.array([[p.probability for p in pair] for pair in pairs])
    outside = np.array([[(p.domain_score or 0.0) > 1.0 for p in pair] for pair in pairs])
    th = engines[0].card.thresholds
    auc = [float(roc_auc_score(labels, probs[:, i])) for i in (0, 1)]
    return {
        "n": len(val),
        "roc_auc_float32": auc[0],
        "roc_auc_int8": auc[1],
        "roc_auc_change": auc[1] - auc[0],
        "agree_fracture": float(
            np.mean((probs[:, 0] >= th.fracture) == (probs[:, 1] >= th.fracture))
        ),
        "agree_doubt": float(np.mean((probs[:, 0] >= th.doubt) == (probs[:, 1] >= th.doubt))),
        "agree_outside_domain": float(np.mean(outside[:, 0] == outside[:, 1])),
        "agree_boxes": float(np.mean([_boxes_agree(a.boxes, b.boxes) for a, b in pairs])),
        "max_probability_difference": float(np.abs(probs[:, 0] - probs[:, 1]).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="float32 model folder")
    parser.add_argument("--data", type=Path, required=True, help="FracAtlas (splits.csv)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the int8 copy")
    parser.add_argument("--count", type=int, default=256, help="calibration images")
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"))
    args = parser.parse_args()
    quantize_model(args.model, args.out, args.data, args.variant, args.count, args.cache_dir)
    print(json.dumps(compare_on_val(args.model, args.out, args.data), indent=2))


if __name__ == "__main__":
    main()
