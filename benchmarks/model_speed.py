"""Time per image of the two engines side by side, then of every compared network.

First, every shipped model folder with an ONNX graph, scored as the app scores it (one
thread, from a prepared input): ONNX Runtime and torch each give the logit, the boxes and
the domain score from one pass, then the same with the Grad-CAM map. The target (issue 31):
ONNX Runtime's pass with boxes and domain check within 10 ms for the shipped model on an
idle machine. Wall and CPU milliseconds are both printed, with the load average: on a busy
machine the CPU time is the steadier of the two.

Then the architectures (torch only; ``--engines-only`` skips them): forward alone, forward
+ Grad-CAM, and for a localising network the forward pass with its objectness map read into
boxes, network only, prepared as the app runs it (``frozen``: batch norms folded, channels-last),
with random weights (timing does not depend on them); efficientnet_lite0-v2's mirror
averaging is timed too. Run on an idle machine: ``python -m benchmarks.model_speed``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from fracture_desktop.core.boxes import decode_boxes
from fracture_desktop.core.inference.card import load_card, onnx_graph
from fracture_desktop.core.inference.engine import InferenceEngine, frozen, grad_cam
from fracture_desktop.core.inference.localiser import read_maps
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.core.inference.onnx_engine import OnnxEngine
from fracture_desktop.core.inference.prediction import Engine
from fracture_desktop.core.paths import models_root
from fracture_desktop.training.architectures import architecture, names


def time_ms(run: object, repeats: int) -> float:
    run()  # warm-up: first calls allocate
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats * 1e3


def wall_and_cpu_ms(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    run()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        run()
    return (
        (time.perf_counter() - wall) / repeats * 1e3,
        (time.process_time() - cpu) / repeats * 1e3,
    )


def engine_times(engine: Engine, values: np.ndarray, repeats: int) -> list[float]:
    """Wall and CPU ms of a pass giving logit, boxes and domain score, then of one with the
    Grad-CAM map too, as :meth:`Engine.predict_prepared` runs them."""
    shape = (2000, 1600)
    plain = wall_and_cpu_ms(lambda: engine._predict(values, shape, False), repeats)
    heat = wall_and_cpu_ms(lambda: engine._predict(values, shape, True), repeats)
    return [*plain, *heat]


def compare_engines(repeats: int) -> None:
    """Both engines on every shipped model folder that has a graph."""
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'model (1 thread, ms)':<24}{'engine':>14}{'wall':>8}{'cpu':>8}"
          f"{'+cam wall':>11}{'+cam cpu':>10}")  # fmt: skip
    for folder in sorted(models_root().iterdir()):
        if not (folder / "model_card.json").is_file() or onnx_graph(load_card(folder)) is None:
            continue
        engines: list[Engine] = [
            OnnxEngine.load(folder, threads=1),
            InferenceEngine.load(folder, "cpu", threads=1),
        ]
        spec = engines[0].card.input_spec
        values = np.random.default_rng(0).random(
            (spec.channels, spec.size, spec.size), dtype=np.float32
        )
        for engine in engines:
            times = engine_times(engine, values, repeats)
            name = "ONNX Runtime" if isinstance(engine, OnnxEngine) else "torch"
            print(f"{folder.name:<24}{name:>14}" + "".join(
                f"{t:>{w}.1f}" for t, w in zip(times, (8, 8, 11, 10), strict=True)
            ))  # fmt: skip


def measure(
    name: str, input_size: int, mirror: bool, repeats: int
) -> tuple[float, float, float | None]:
    """Forward, forward + Grad-CAM and (localising networks only) forward + boxes, in ms."""
    arch = architecture(name, input_size)
    model = frozen(MirrorAverage(arch.build()) if mirror else arch.build())
    spec = arch.input_spec
    x = torch.rand(1, spec.channels, spec.size, spec.size)

    def forward() -> None:
        with torch.inference_mode():
            model(x)

    def with_boxes() -> None:
        with torch.inference_mode():
            cells = read_maps(model.forward_with_map(x)[1])[0]
        # A threshold of 0 reads every peak: the most work decoding can take.
        decode_boxes(cells, (2000, 1600), spec, threshold=0.0)

    boxes = time_ms(with_boxes, repeats) if hasattr(model, "forward_with_map") else None
    return time_ms(forward, repeats), time_ms(lambda: grad_cam(model, x), repeats), boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--engines-only", action="store_true", help="skip the table of every network"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    compare_engines(args.repeats)
    if args.engines_only:
        return
    print()
    header = f"{'network':<26}{'input':>7}{'forward ms':>12}{'+ Grad-CAM ms':>15}{'ratio':>7}"
    print(f"{header}{'+ boxes ms':>12}")
    runs = [(name, 0, False) for name in names()] + [
        ("fracture_net", 384, False),
        ("efficientnet_lite0", 320, False),
        ("efficientnet_lite0", 320, True),
    ]
    for name, size, mirror in runs:
        forward, cam, boxes = measure(name, size, mirror, args.repeats)
        shown = size or architecture(name).input_spec.size
        label = f"{name} + mirror" if mirror else name
        with_boxes = f"{boxes:>12.1f}" if boxes is not None else ""
        print(
            f"{label:<26}{shown:>7}{forward:>12.1f}{cam:>15.1f}{cam / forward:>7.2f}{with_boxes}"
        )


if __name__ == "__main__":
    main()
