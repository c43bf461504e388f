"""v4's float32 graph against int8 copies (``fracture_desktop.training.quantize``), timed
alternately in one process as ``model_speed --engines-only`` times an engine: one thread,
the pass with boxes and domain check, then with the Grad-CAM map; three rounds of 20.

``python -m benchmarks.int8_speed DIR [DIR ...]`` on an idle machine.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from benchmarks.model_speed import engine_times
from fracture_desktop.core.inference.onnx_engine import OnnxEngine
from fracture_desktop.core.paths import models_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path, help="model folders with int8 graphs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    folders = [models_root() / "efficientnet_lite0-v4", *args.folders]
    engines = [OnnxEngine.load(folder, threads=1) for folder in folders]
    spec = engines[0].card.input_spec
    rng = np.random.default_rng(0)
    values = rng.random((spec.channels, spec.size, spec.size), dtype=np.float32)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    times = np.array(
        [[engine_times(e, values, args.repeats) for e in engines] for _ in range(args.rounds)]
    )
    base = np.median(times[:, 0, 0])
    for i, folder in enumerate(folders):
        wall, cpu, cam = (np.median(times[:, i, k]) for k in (0, 1, 2))
        print(
            f"{folder.name:<24} wall {wall:6.1f} ms  cpu {cpu:6.1f} ms  +cam wall {cam:6.1f} ms"
            f"  float32 / this {base / wall:.2f}"
        )


if __name__ == "__main__":
    main()
