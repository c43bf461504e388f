"""Scoring cached model inputs in batches, for training, evaluation and the domain fit.

The inputs are the training cache's arrays (N, size, size): exactly what
:func:`~fracture_desktop.core.imaging.model_input.model_input` gives the app.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.inference.localiser import read_maps


def predict_logits(
    model: nn.Module, inputs: np.ndarray, channels: int, batch_size: int = 64
) -> np.ndarray:
    """Logits for cached inputs (N, size, size), in eval mode without gradients."""
    model.eval()
    with torch.inference_mode():
        out = [model(x).float().numpy() for x in batches(inputs, channels, batch_size)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def batches(inputs: np.ndarray, channels: int, batch_size: int = 64) -> Iterator[torch.Tensor]:
    """Cached inputs (N, size, size) as network batches (n, channels, size, size)."""
    for start in range(0, len(inputs), batch_size):
        x = torch.from_numpy(np.array(inputs[start : start + batch_size]))
        yield x[:, None].expand(-1, channels, -1, -1)


def predict_with_maps(
    model: nn.Module, inputs: np.ndarray, channels: int, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N,) and maps (N, channels, rows, cols) of a localising network, as
    :func:`~fracture_desktop.core.inference.localiser.read_maps` gives them."""
    model.eval()
    logits, maps = [], []
    with torch.inference_mode():
        for x in batches(inputs, channels, batch_size):
            logit, cells = model.forward_with_map(x)
            logits.append(logit.float().numpy())
            maps.append(read_maps(cells))
    return np.concatenate(logits), np.concatenate(maps)


def top_cell_pointing(maps: np.ndarray, masks: np.ndarray, chosen: np.ndarray) -> float:
    """Share of ``chosen`` images whose highest map cell's centre lies inside a box mask.

    ``maps`` (N, channels, rows, cols; the score first) cover the model input that ``masks``
    (N, size, size) mark.
    """
    hits = []
    for cells, mask in zip(maps[chosen, 0], masks[chosen], strict=True):
        r, c = np.unravel_index(int(np.argmax(cells)), cells.shape)
        step = mask.shape[0] / cells.shape[0]
        hits.append(bool(mask[int((r + 0.5) * step), int((c + 0.5) * step)]))
    return float(np.mean(hits)) if hits else float("nan")
