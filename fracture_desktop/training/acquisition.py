"""Shift-robust augmentation: randomise what the acquisition and the framing change.

An image-level network trained on one collection learns whatever separates its classes
there, and in FracAtlas the source of an image does: large originals are fractured about
twice as often as small ones. Outside, the field of view, the processing and the detector
change, and a network that leans on them drops to chance. So training varies what a source
changes and keeps only what a fracture changes:

- framing: zoom 0.6-1.4 with shifts (close-up fields, smaller limbs), two images side by
  side on one film (the label is either's), collimation borders, burned-in markers;
- processing: gamma, global histogram equalisation, unsharp masking, blur;
- detector and file: down-then-up sampling, noise, JPEG quality.

Everything acts on the cached model inputs (N, 1, size, size) in [0, 1] with their fracture
masks, so a box follows its fracture wherever the framing moves it. Random numbers come from
numpy's global generator, which training seeds and checkpoints.

The synthetic re-acquisition benchmark (:mod:`fracture_desktop.training.shift`) works on the
stored image before preprocessing, with other operations and ranges, so training never sees
its exact transforms.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF


def framing_augmentation() -> v2.Transform:
    """Flips, rotations up to 10 degrees, zoom 0.6-1.4 with shifts up to 15%, exposure
    jitter. Masks passed beside the images follow the geometric changes only."""
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=10, translate=(0.15, 0.15), scale=(0.6, 1.4)),
            v2.ColorJitter(brightness=0.15, contrast=0.2),
            v2.Lambda(lambda x: x.clamp_(0.0, 1.0), tv_tensors.Image),
        ]
    )


def side_by_side(
    images: torch.Tensor,
    masks: torch.Tensor,
    labels: torch.Tensor,
    known: torch.Tensor,
    share: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Put ``share`` of the batch on one film with another image of the batch.

    Each pair is squeezed to half width side by side; the film is fractured if either image
    is, and its mask is known only if both are. Masks are squeezed by their maximum, so a
    box one pixel wide survives. The inputs are read, never changed.
    """
    out = images.clone(), masks.clone(), labels.clone(), known.clone()
    n, _, rows, cols = images.shape
    half = (rows, cols // 2)
    for i in np.flatnonzero(np.random.rand(n) < share):
        j = int(np.random.randint(n))
        pair = images[[i, j]].float()
        out[0][i] = torch.cat(list(F.interpolate(pair, size=half, mode="bilinear")), dim=-1)
        pair_masks = F.adaptive_max_pool2d(masks[[i, j]].float(), half)
        out[1][i] = torch.cat(list(pair_masks), dim=-1).to(masks.dtype)
        out[2][i] = torch.maximum(labels[i], labels[j])
        out[3][i] = known[i] & known[j]
    return out


def _gaussian(image: torch.Tensor, sigma: float) -> torch.Tensor:
    kernel = 2 * int(np.ceil(2.5 * sigma)) + 1
    return TF.gaussian_blur(image, [kernel, kernel], [sigma, sigma])


def _equalise(image: torch.Tensor) -> torch.Tensor:
    """Global histogram equalisation (256 levels) of the exposed pixels; the black padding
    and the darkest background stay as they are."""
    exposed = image > 0.02
    if int(exposed.sum()) < 2:
        return image
    levels = (image.clamp(0, 1) * 255).round().long()
    counts = torch.bincount(levels[exposed], minlength=256).float()
    cdf = counts.cumsum(0) / counts.sum()
    return torch.where(exposed, cdf[levels], image)


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    grey = (image[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(buffer), dtype=np.float32) / 255.0
    return torch.from_numpy(decoded)[None]


def _collimate(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Bright, flat borders as a collimator leaves, never over a fracture."""
    _, rows, cols = image.shape
    marked = torch.nonzero(mask[0])
    if len(marked):
        (r0, c0), (r1, c1) = marked.min(dim=0).values.tolist(), marked.max(dim=0).values.tolist()
        room = (r0, rows - 1 - r1, c0, cols - 1 - c1)  # top, bottom, left, right of the fracture
    else:
        room = (rows, rows, cols, cols)
    top, bottom, left, right = (
        int(np.random.randint(0, max(1, min(limit, int(0.2 * size)))))
        for limit, size in zip(room, (rows, rows, cols, cols), strict=True)
    )
    level = float(np.random.uniform(0.5, 1.0))
    out = image.clone()
    out[:, :top] = level
    out[:, rows - bottom :] = level
    out[:, :, :left] = level
    out[:, :, cols - right :] = level
    return out


def _marker(image: torch.Tensor) -> torch.Tensor:
    """A burned-in lead marker: a bright letter-like block near the top or bottom edge."""
    _, rows, cols = image.shape
    height = int(np.random.randint(max(3, rows // 32), max(4, rows // 10)))
    width = max(3, height * 2 // 3)
    band = rows // 5  # markers sit in the top or bottom fifth
    r = int(
        np.random.randint(1, band - height)
        if np.random.rand() < 0.5
        else np.random.randint(rows - band, rows - height)
    )
    c = int(np.random.randint(1, cols - width - 1))
    out = image.clone()
    stroke = max(1, height // 5)
    level = float(np.random.uniform(0.85, 1.0))
    # An "L" or an "R"-like block: a vertical stroke and one or two bars.
    out[:, r : r + height, c : c + stroke] = level
    out[:, r + height - stroke : r + height, c : c + width] = level
    if np.random.rand() < 0.5:
        out[:, r : r + stroke, c : c + width] = level
    return out


def acquisition_noise(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One image (1, H, W) as another source might have made it; ``mask`` (1, H, W) marks
    the fracture, which collimation must not hide."""
    rng = np.random
    if rng.rand() < 0.5:
        image = image.clamp(0, 1) ** float(rng.uniform(0.6, 1.6))
    if rng.rand() < 0.15:
        image = _equalise(image)
    if rng.rand() < 0.3:
        factor = float(rng.uniform(0.35, 0.8))
        size = image.shape[-2:]
        small = F.interpolate(image[None], scale_factor=factor, mode="bilinear", antialias=True)
        image = F.interpolate(small, size=size, mode="bilinear")[0]
    roll = rng.rand()
    if roll < 0.2:
        image = _gaussian(image, float(rng.uniform(0.5, 1.5)))
    elif roll < 0.4:
        blurred = _gaussian(image, float(rng.uniform(1.0, 3.0)))
        image = image + float(rng.uniform(0.5, 1.5)) * (image - blurred)
    if rng.rand() < 0.3:
        image = image + float(rng.uniform(0.005, 0.04)) * torch.randn_like(image)
    image = image.clamp(0, 1)
    if rng.rand() < 0.25:
        image = _collimate(image, mask)
    if rng.rand() < 0.3:
        image = _marker(image)
    if rng.rand() < 0.2:
        image = _jpeg(image, int(rng.randint(40, 96)))
    return image.clamp(0, 1)


def source_weights(labels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Sampling probabilities that give every source the same share within each class.

    Each class keeps its own share of the data set; within a class, each source (for
    FracAtlas, a bin of the original image size) is drawn equally often, so that how often
    a source is fractured no longer tells the network anything.
    """
    weights = np.zeros(len(labels), dtype=np.float64)
    for label in np.unique(labels):
        in_class = labels == label
        groups = np.unique(sources[in_class])
        for group in groups:
            members = in_class & (sources == group)
            weights[members] = in_class.sum() / (len(groups) * members.sum())
    return weights / weights.sum()
