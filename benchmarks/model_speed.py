"""CPU time per image of every compared network: forward alone and forward + Grad-CAM.

One thread, network only, prepared as the app runs it (``frozen``: batch norms folded,
channels-last), from a prepared input (timing does not depend on the weights, so random
ones serve); efficientnet_lite0-v2's mirror averaging is timed too. Run on an idle machine:
``python -m benchmarks.model_speed``.
"""

from __future__ import annotations

import argparse
import time

import torch

from fracture_desktop.core.inference.engine import frozen, grad_cam
from fracture_desktop.core.inference.mirror import MirrorAverage
from fracture_desktop.training.architectures import architecture, names


def time_ms(run: object, repeats: int) -> float:
    run()  # warm-up: first calls allocate
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats * 1e3


def measure(name: str, input_size: int, mirror: bool, repeats: int) -> tuple[float, float]:
    arch = architecture(name, input_size)
    model = frozen(MirrorAverage(arch.build()) if mirror else arch.build())
    spec = arch.input_spec
    x = torch.rand(1, spec.channels, spec.size, spec.size)

    def forward() -> None:
        with torch.inference_mode():
            model(x)

    return time_ms(forward, repeats), time_ms(lambda: grad_cam(model, x), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'network':<26}{'input':>7}{'forward ms':>12}{'+ Grad-CAM ms':>15}{'ratio':>7}")
    runs = [(name, 0, False) for name in names()] + [
        ("fracture_net", 384, False),
        ("efficientnet_lite0", 320, False),
        ("efficientnet_lite0", 320, True),
    ]
    for name, size, mirror in runs:
        forward, cam = measure(name, size, mirror, args.repeats)
        shown = size or architecture(name).input_spec.size
        label = f"{name} + mirror" if mirror else name
        print(f"{label:<26}{shown:>7}{forward:>12.1f}{cam:>15.1f}{cam / forward:>7.2f}")


if __name__ == "__main__":
    main()
