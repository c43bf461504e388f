"""What the domain check adds to scoring one image, on one CPU thread, for every model folder
that has one: ``predict`` with and without the check, and the check's own arithmetic.

The check reads layers of the forward pass the model runs anyway, so its cost is the hooks
plus one Mahalanobis distance per layer (target: at most 2 ms per image, issue 16). Run on an
idle machine: ``python -m benchmarks.domain_check``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.inference.engine import InferenceEngine
from fracture_desktop.core.paths import models_root


def median_ms(run: object, repeats: int) -> float:
    run()  # warm-up: first calls allocate
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def paired_ms(engine: InferenceEngine, image: LoadedImage, repeats: int) -> tuple[float, float]:
    """Median ``predict`` time with and without the check, alternated so that the load of a
    shared machine drifts into both alike."""
    check = engine.domain
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(2 * repeats + 2):
        use = i % 2 == 0
        engine.domain = check if use else None
        start = time.perf_counter()
        engine.predict(image)
        if i >= 2:  # the first pair warms up
            times[use].append(time.perf_counter() - start)
    engine.domain = check
    return statistics.median(times[True]) * 1e3, statistics.median(times[False]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    values = rng.random((1024, 832), dtype=np.float32)
    image = LoadedImage(path=Path("synthetic.png"), frame=0, stored=values, values=values)
    print(f"{'model':<24}{'with check ms':>15}{'without ms':>12}{'added ms':>10}{'scores ms':>11}")
    for folder in sorted(models_root().iterdir()):
        if not (folder / "domain.npz").is_file():
            continue
        engine = InferenceEngine.load(folder, "cpu")
        check = engine.domain
        with_check, without = paired_ms(engine, image, args.repeats)
        features = [rng.random((1, len(mean)), dtype=np.float32) for mean in check.means]
        arithmetic = median_ms(lambda c=check, f=features: c.scores(f), args.repeats * 10)
        print(
            f"{folder.name:<24}{with_check:>15.2f}{without:>12.2f}"
            f"{with_check - without:>10.2f}{arithmetic:>11.3f}"
        )


if __name__ == "__main__":
    main()
