"""Viewer responsiveness: the event loop's longest stall during a batch analysis, and the
time to display the next image.

A 1 ms heartbeat timer records the gap between its ticks while the viewer analyses N
FracAtlas test images (hard links in a temporary folder) with whatever model is available
(``$FRACTURE_DESKTOP_MODEL_DIR``, the shipped model, else a random-weights model: the timing
is the same). Run: ``python -m benchmarks.gui_responsiveness [--images 500]``; it works
offscreen (``QT_QPA_PLATFORM=offscreen``) or under Xvfb.

The viewer is driven by :mod:`benchmarks.viewer_timing`, imported when the benchmark runs:
a decoder worker, started with ``spawn``, imports the module its parent was launched from,
so this one stays as light as the app's entry point for the workers to start as they do in
the viewer (importing Qt and the viewer in each worker added 1-2 s to the first image).
"""

from __future__ import annotations

import argparse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--steps", type=int, default=30, help="next-image steps to time")
    args = parser.parse_args()
    from benchmarks.viewer_timing import run

    return run(args.images, args.steps)


if __name__ == "__main__":
    raise SystemExit(main())
