"""Training sources as the training code sees them: labels, splits, subgroups, boxes and a
decoded cache.

A **source** is a folder laid out as the share's data sets are (FracAtlas, the MURA-derived
set): ``splits.csv`` (``image_id, label, split``), images under ``images/<class folder>/``,
and optionally ``dataset.csv`` (per-image metadata: a ``folder`` column, a ``region`` column or
FracAtlas' one-hot region columns, a ``hardware`` column, ``width``/``height``) and fracture
boxes (FracAtlas' COCO file or ``annotations/boxes.json``). A third source needs no code.

The cache holds exactly what :func:`~fracture_desktop.core.imaging.model_input.model_input`
returns for each file, so epochs never re-decode JPEGs and the network trains on the very
arrays the app will feed it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.imaging.loader import load_image
from fracture_desktop.core.imaging.model_input import (
    PREPROCESSING_VERSION,
    InputSpec,
    fit_box,
    model_input,
)
from fracture_desktop.core.site_labels import folder_label

REGIONS = ("hand", "leg", "hip", "shoulder", "mixed")
#: Where FracAtlas keeps its COCO fracture boxes, relative to the data folder.
ANNOTATIONS = Path("annotations") / "coco_fracture_masks.json"
#: Where other sources keep their boxes: ``{image_id: [{"box": [x0, y0, x1, y1]}, ...]}``.
CORNER_BOXES = Path("annotations") / "boxes.json"
#: Original sizes of the FracAtlas images that were downscaled for the share.
RESIZED = Path("resized.csv")
#: Long sides (px) of the original image that split FracAtlas into its sources: a size marks
#: the device an image came from, and fracture prevalence differs between them.
SOURCE_EDGES = (600, 1500)


@dataclass(frozen=True)
class Sample:
    """One labelled image: the label comes from the folder (see the data set's README)."""

    image_id: str
    path: Path
    label: int
    split: str = ""
    region: str = "unknown"
    hardware: bool | None = None
    #: The source folder's name (``fracatlas``, ``mura_roboflow``, ...).
    source: str = ""


def _region(row: dict[str, str]) -> str:
    if row.get("region"):
        return row["region"]
    hits = [name for name in REGIONS if row.get(name) == "1"]
    return hits[0] if len(hits) == 1 else ("mixed" if hits else "unknown")


@dataclass(frozen=True)
class FractureBoxes:
    """The COCO fracture boxes of one image, in the pixels of the image as stored.

    Attributes
    ----------
    width, height : int
        The image size the boxes refer to.
    boxes : tuple of (x, y, w, h)
        COCO ``bbox`` values: top-left corner, width and height in pixels.
    """

    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]


def fracture_boxes(annotations: Path) -> dict[str, FractureBoxes]:
    """The COCO fracture boxes of FracAtlas, by image file name."""
    coco = json.loads(Path(annotations).read_text())
    images = {image["id"]: image for image in coco["images"]}
    boxes: dict[int, list[tuple[float, float, float, float]]] = {}
    for ann in coco["annotations"]:
        boxes.setdefault(ann["image_id"], []).append(tuple(ann["bbox"]))
    return {
        images[key]["file_name"]: FractureBoxes(
            images[key]["width"], images[key]["height"], tuple(found)
        )
        for key, found in boxes.items()
    }


def box_masks(
    samples: list[Sample], spec: InputSpec, boxes: dict[str, FractureBoxes]
) -> tuple[np.ndarray, np.ndarray]:
    """Fracture boxes drawn into model-input coordinates, for a localisation head's loss and
    the shift-robust augmentation, which keeps them clear of what it draws.

    Returns ``masks`` (N, size, size), uint8, 1 inside a box once the image is placed in the
    input square as :func:`~fracture_desktop.core.imaging.model_input.model_input` places
    it, and ``known`` (N,), bool: whether the sample's mask is known. A non-fractured image
    has no fracture anywhere (an empty mask, known); a fractured image without boxes is
    unknown and must not teach the network that its fracture is nowhere.
    """
    masks = np.zeros((len(samples), spec.size, spec.size), dtype=np.uint8)
    known = np.zeros(len(samples), dtype=bool)
    for i, sample in enumerate(samples):
        found = boxes.get(sample.image_id)
        known[i] = not sample.label or found is not None
        if not sample.label or found is None:
            continue
        for x0, y0, x1, y1 in input_boxes(found, spec):
            # Every input pixel the box touches, so that a thin box keeps at least one.
            r0, c0 = int(y0), int(x0)
            r1, c1 = max(r0 + 1, int(np.ceil(y1))), max(c0 + 1, int(np.ceil(x1)))
            masks[i, r0:r1, c0:c1] = 1
    return masks, known


def input_boxes(found: FractureBoxes, spec: InputSpec) -> list[tuple[float, float, float, float]]:
    """An image's fracture boxes as (x0, y0, x1, y1) in the model input square, placed as
    :func:`~fracture_desktop.core.imaging.model_input.model_input` places the image."""
    top, left, rows, cols = fit_box((found.height, found.width), spec.size, spec.letterbox)
    sy, sx = rows / found.height, cols / found.width
    return [
        (left + x * sx, top + y * sy, left + (x + w) * sx, top + (y + h) * sy)
        for x, y, w, h in found.boxes
    ]


def original_long_sides(samples: list[Sample], root: Path) -> np.ndarray:
    """The long side in pixels of each sample's original image (before the share's
    downscaling, which ``resized.csv`` records); only the file header is read."""
    resized: dict[str, int] = {}
    listing = Path(root) / RESIZED
    if listing.is_file():
        with open(listing, newline="") as f:
            resized = {
                row["image_id"]: max(int(row["original_width"]), int(row["original_height"]))
                for row in csv.DictReader(f)
            }
    sides = []
    for sample in samples:
        if sample.image_id in resized:
            sides.append(resized[sample.image_id])
            continue
        with Image.open(sample.path) as image:
            sides.append(max(image.size))
    return np.array(sides, dtype=np.int64)


def source_bins(long_sides: np.ndarray) -> np.ndarray:
    """0, 1 or 2: original long side up to 600 px, up to 1,500 px, or larger."""
    return np.digitize(long_sides, SOURCE_EDGES, right=True)


@dataclass(frozen=True)
class Holdout:
    """Which training images a hold-out run may use, and which test images score it."""

    description: str
    train: Callable[[Sample, int], bool]
    test: Callable[[Sample, int], bool]
    #: Another hold-out whose training images this one's match in number per split and
    #: class, drawn at random among those ``train`` allows: a control for what that
    #: hold-out's training-set size costs alone.
    sized_as: str = ""


#: Hold-out benchmarks; the int passed beside a sample is its source bin
#: (:func:`~fracture_desktop.training.dataset.source_bins`: 0 small, 2 large).
HOLDOUTS: dict[str, Holdout] = {
    "small-to-large": Holdout(
        "train on originals <= 600 px, test on > 1,500 px",
        lambda s, b: b == 0,
        lambda s, b: b == 2,
    ),
    "large-to-small": Holdout(
        "train on originals > 1,500 px, test on <= 600 px",
        lambda s, b: b == 2,
        lambda s, b: b == 0,
    ),
    "no-hand": Holdout(
        "train without hand and mixed images, test on hands",
        lambda s, b: s.region not in ("hand", "mixed"),
        lambda s, b: s.region == "hand",
    ),
    "small-control": Holdout(
        "train on as few small originals as large-to-small trains on, test on <= 600 px",
        # Drawn from the test images' own source, so never from the test split itself.
        lambda s, b: b == 0 and s.split != "test",
        lambda s, b: b == 0,
        sized_as="large-to-small",
    ),
}


def _known(name: str) -> None:
    if name not in HOLDOUTS:
        raise ValueError(f"unknown hold-out {name!r}; choose from {', '.join(HOLDOUTS)}")


def holdout_subset(samples: list[Sample], root: Path, name: str, side: str) -> list[Sample]:
    """The ``train`` or ``test`` side (``side``) of hold-out ``name`` among ``samples``."""
    _known(name)
    return _holdout_side(samples, source_bins(original_long_sides(samples, root)), name, side)


def held_out_images(samples: list[Sample], root: Path, name: str) -> list[Sample]:
    """The images of ``samples``, from every split, that hold-out ``name`` tests on and its
    training never takes.

    A hold-out's run neither trains on nor chooses its epoch by any of them, so all are as
    unseen as its test split's: scored together they give intervals several times
    narrower than the test split's share alone (1,090 hands against 164).
    """
    _known(name)
    bins = source_bins(original_long_sides(samples, root))
    trained = {s.image_id for s in _holdout_side(samples, bins, name, "train")}
    return [s for s in _holdout_side(samples, bins, name, "test") if s.image_id not in trained]


def _holdout_side(samples: list[Sample], bins: np.ndarray, name: str, side: str) -> list[Sample]:
    holdout = HOLDOUTS[name]
    rule = getattr(holdout, side)
    chosen = [s for s, b in zip(samples, bins, strict=True) if rule(s, int(b))]
    if side == "train" and holdout.sized_as:
        return _sized_as(chosen, _holdout_side(samples, bins, holdout.sized_as, "train"))
    return chosen


def _sized_as(candidates: list[Sample], reference: list[Sample]) -> list[Sample]:
    """As many of ``candidates`` per split and label as ``reference`` holds, drawn in the
    order of a hash of their image ids: at random, yet the same on every machine and run."""
    wanted = Counter((s.split, s.label) for s in reference)
    taken: Counter[tuple[str, int]] = Counter()
    drawn = set()
    for sample in sorted(candidates, key=lambda s: hashlib.sha256(s.image_id.encode()).digest()):
        key = (sample.split, sample.label)
        if taken[key] < wanted[key]:
            taken[key] += 1
            drawn.add(sample.image_id)
    return [s for s in candidates if s.image_id in drawn]


def _class_folders(root: Path) -> dict[int, Path]:
    """The class folders directly under ``root`` by label, named as a site's folders are
    (:func:`~fracture_desktop.core.site_labels.folder_label`)."""
    found: dict[int, Path] = {}
    for child in sorted(root.iterdir()):
        label = folder_label(child.name) if child.is_dir() else None
        if label is not None:
            found[label] = child
    return found


def source_samples(root: Path) -> list[Sample]:
    """All samples of one source folder (see the module docstring), split from ``splits.csv``.

    The label is the split file's; ``dataset.csv`` supplies the image's folder, body region
    and hardware where it has them. Its own label columns are ignored, because FracAtlas'
    contradicts the folders once (IMG0003298).
    """
    root = Path(root)
    meta: dict[str, dict[str, str]] = {}
    if (root / "dataset.csv").is_file():
        with open(root / "dataset.csv", newline="") as f:
            meta = {row["image_id"]: row for row in csv.DictReader(f)}
    folders = _class_folders(root / "images")
    samples = []
    with open(root / "splits.csv", newline="") as f:
        for row in csv.DictReader(f):
            label = int(row["label"])
            info = meta.get(row["image_id"], {})
            folder = root / "images" / info["folder"] if info.get("folder") else folders[label]
            hardware = info.get("hardware")
            samples.append(
                Sample(
                    image_id=row["image_id"],
                    path=folder / row["image_id"],
                    label=label,
                    split=row["split"],
                    region=_region(info),
                    hardware=None if hardware in (None, "") else hardware == "1",
                    source=root.name,
                )
            )
    return samples


def source_boxes(root: Path, samples: list[Sample] | None = None) -> dict[str, FractureBoxes]:
    """The fracture boxes of one source by image id: FracAtlas' COCO file, or
    ``annotations/boxes.json`` with corner boxes in the stored image's pixels (the
    MURA-derived set's polygons' bounding boxes). Empty when the source has none; boxes of
    images the folder does not hold are left out. ``samples``: the source's samples, when
    they are already read."""
    root = Path(root)
    if (root / ANNOTATIONS).is_file():
        return fracture_boxes(root / ANNOTATIONS)
    if not (root / CORNER_BOXES).is_file():
        return {}
    every = source_samples(root) if samples is None else samples
    held = {s.image_id: s.path for s in every if s.path.is_file()}
    found = {}
    for image_id, entries in json.loads((root / CORNER_BOXES).read_text()).items():
        if image_id not in held:
            continue
        with Image.open(held[image_id]) as image:  # the header only
            width, height = image.size
        found[image_id] = FractureBoxes(
            width,
            height,
            tuple((x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in (e["box"] for e in entries)),
        )
    return found


def load_sources(roots: list[Path]) -> tuple[list[Sample], dict[str, FractureBoxes]]:
    """The union of several sources' samples and boxes.

    Image ids must be unique across the sources, since boxes, caches and per-image reports
    are keyed by them.
    """
    samples: list[Sample] = []
    boxes: dict[str, FractureBoxes] = {}
    for root in roots:
        found = source_samples(root)
        samples += found
        boxes |= source_boxes(root, found)
    repeated = [k for k, n in Counter(s.image_id for s in samples).items() if n > 1]
    if repeated:
        raise ValueError(f"image ids repeat across sources: {', '.join(repeated[:5])}")
    return samples, boxes


def folder_samples(root: Path) -> list[Sample]:
    """Samples from any folder laid out as ``Fractured/`` + ``Non_fractured/`` (any case)."""
    samples = []
    for label, child in sorted(_class_folders(Path(root)).items(), key=lambda x: x[1]):
        for path in sorted(p for p in child.rglob("*") if p.is_file()):
            samples.append(Sample(image_id=path.name, path=path, label=label))
    if not samples:
        raise FileNotFoundError(f"{root} has no Fractured/ and Non_fractured/ folders")
    return samples


def load_samples(root: Path) -> list[Sample]:
    """A source (with its split file) or a generic labelled folder."""
    root = Path(root)
    if (root / "splits.csv").is_file():
        return source_samples(root)
    return folder_samples(root)


def _model_input_of(args: tuple[Path, InputSpec]) -> np.ndarray:
    path, spec = args
    # One channel is cached; channels are repeated at batch time.
    return model_input(load_image(path), replace(spec, channels=1))[0]


def build_cache(samples: list[Sample], spec: InputSpec, cache_dir: Path) -> np.ndarray:
    """Decode every sample once into a float32 array (N, size, size), reusing a cache file.

    The cache file name hashes the preprocessing version, the spec and the ordered file
    list, so a change to any of them builds a new cache instead of silently reusing a stale
    one.
    """
    files = [str(s.path) for s in samples]
    fields: list = [PREPROCESSING_VERSION, spec.size, spec.letterbox, files]
    digest = hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"inputs-{spec.size}-{int(spec.letterbox)}-{digest}.npy"
    if path.is_file():
        return np.load(path, mmap_mode="r")
    path.parent.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(len(samples) // 32, os.cpu_count() or 1))
    jobs = [(s.path, spec) for s in samples]
    if workers == 1:
        arrays = [_model_input_of(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            arrays = list(pool.map(_model_input_of, jobs, chunksize=16))
    stacked = np.stack(arrays).astype(np.float32)
    # A temporary file of its own: two runs may build the same cache at once.
    with atomic_write(path, overwrite=True) as f:
        np.save(f, stacked)
    return stacked


def cached_inputs(samples: list[Sample], spec: InputSpec, cache_dir: Path) -> np.ndarray:
    """The samples' model inputs (N, size, size), cached per source (:func:`build_cache`),
    so that every run on a source, alone or beside others, reuses that source's cache."""
    parts = [
        build_cache([s for s in samples if s.source == source], spec, cache_dir)
        for source in dict.fromkeys(s.source for s in samples)
    ]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
