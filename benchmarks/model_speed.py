"""CPU time per image of every compared network: forward alone, forward + Grad-CAM, and for
a localising network the forward pass with its objectness map read into boxes.

One thread, network only, prepared as the app runs it (``frozen``: batch norms folded,
channels-last), from a prepared input (timing does not depend on the weights, so random
ones serve); efficientnet_lite0-v2's mirror averaging is timed too. Run on an idle machine:
``python -m benchmarks.model_speed``.
"""

from __future__ import annotations

import argparse
import time

import torch

from fracture_desktop.core.boxes import decode_boxes
from fracture_desktop.core.inference.engine import frozen, grad_cam
from fracture_desktop.core.inference.localiser import read_maps
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.training.architectures import architecture, names


def time_ms(run: object, repeats: int) -> float:
    run()  # warm-up: first calls allocate
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats * 1e3


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
    args = parser.parse_args()
    torch.set_num_threads(1)
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
