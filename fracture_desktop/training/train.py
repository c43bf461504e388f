"""A training run: fixed seeds, class weighting, the data, the network and the run's handlers,
then :func:`~fracture_desktop.training.loop.run_epochs`.

Model choice uses the ``val`` split only (ROC-AUC); ``test`` is never read here.
"""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.efficientnet_lite import ADDED_HEADS
from fracture_desktop.training.acquisition import source_weights
from fracture_desktop.training.architectures import Architecture, architecture
from fracture_desktop.training.config import TrainConfig
from fracture_desktop.training.dataset import (
    FractureBoxes,
    Sample,
    box_masks,
    cached_inputs,
    holdout_subset,
    load_sources,
    original_long_sides,
    source_bins,
)
from fracture_desktop.training.epoch_data import TrainingImages
from fracture_desktop.training.handlers.checkpoints import Checkpoints
from fracture_desktop.training.handlers.early_stop import EarlyStop
from fracture_desktop.training.handlers.localiser import LocaliserLoss
from fracture_desktop.training.handlers.log import EpochLog
from fracture_desktop.training.handlers.weight_average import WeightAverage
from fracture_desktop.training.loop import Handler, Run, Schedule, Validation, run_epochs


def git_commit() -> str:
    """The commit of the code that runs, recorded with every run ("unknown" outside git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _subset(samples: list[Sample], split: str, limit: int) -> list[Sample]:
    """``split``'s samples; with ``limit``, that many of each source, both classes kept."""
    chosen = []
    for source in dict.fromkeys(s.source for s in samples):
        found = [s for s in samples if s.split == split and s.source == source]
        if limit:
            # Keep both classes in tiny smoke-test subsets.
            pos = [s for s in found if s.label][: max(1, limit // 2)]
            neg = [s for s in found if not s.label][: limit - len(pos)]
            found = pos + neg
        chosen += found
    return chosen


def _load_init(model: nn.Module, path: Path) -> None:
    """Load starting weights; a localisation head and its pooling that they lack start fresh."""
    missing, unexpected = model.load_state_dict(torch.load(path, weights_only=True), strict=False)
    if unexpected or any(not key.startswith(ADDED_HEADS) for key in missing):
        raise ValueError(f"{path} does not fit: missing {missing}, unexpected {unexpected}")


def _freeze_early_layers(model: nn.Module, blocks: int) -> None:
    """Keep the stem and the first ``blocks`` blocks of an EfficientNet at their starting
    weights: on two CPU cores the backward pass through the full-resolution layers costs
    about half of a training step, and a fine-tune needs them least."""
    for layer in (model._conv_stem, model._bn0, *model._blocks[:blocks]):
        layer.requires_grad_(False)


def _network(config: TrainConfig, arch: Architecture) -> nn.Module:
    """The network to train: built, started from ``init``, its early blocks frozen."""
    model = arch.build()
    if config.init:
        # Fine-tuning, e.g. at a higher resolution than the run the weights come from, or a
        # classifier's weights growing a new localisation head.
        _load_init(model, Path(config.init))
    if config.frozen_blocks:
        _freeze_early_layers(model, config.frozen_blocks)
    # Channels-last runs oneDNN's convolutions, depthwise ones above all: a Lite0 training
    # step on one CPU thread takes about half the time it takes in the default layout.
    return model.to(memory_format=torch.channels_last)


@dataclass(frozen=True)
class _Split:
    """One split's samples, cached inputs (N, size, size), labels and each sample's source
    (an index into the run's sources)."""

    samples: list[Sample]
    inputs: np.ndarray
    labels: np.ndarray
    source_of: np.ndarray


@dataclass(frozen=True)
class _Data:
    """What a run trains and chooses on: its sources' names, train and val, and boxes."""

    sources: tuple[str, ...]
    train: _Split
    val: _Split
    boxes: dict[str, FractureBoxes]


def _data(config: TrainConfig, spec: InputSpec) -> _Data:
    """The train and val splits of every source (``limit`` images each, without the
    hold-out's) and their fracture boxes."""
    roots = [Path(d) for d in config.data]
    samples, boxes = load_sources(roots)
    if config.holdout:
        if len(roots) > 1:
            raise ValueError("a hold-out splits one source: train it with one --data")
        # Val is cut like train: choosing the epoch on held-out images would leak them.
        samples = holdout_subset(samples, roots[0], config.holdout, "train")
    sources = tuple(dict.fromkeys(s.source for s in samples))
    found = []
    for split, dtype in (("train", np.float32), ("val", np.int64)):
        chosen = _subset(samples, split, config.limit)
        inputs = cached_inputs(chosen, spec, Path(config.cache_dir))
        labels = np.array([s.label for s in chosen], dtype=dtype)
        source_of = np.array([sources.index(s.source) for s in chosen])
        found.append(_Split(chosen, inputs, labels, source_of))
    return _Data(sources, found[0], found[1], boxes)


def _draw(config: TrainConfig, data: _Data) -> np.ndarray | None:
    """Each training image's probability per draw, or None for one pass in random order.

    Several sources are drawn equally often within each class, so that neither the larger
    source nor its share of fractures tells the network anything. On one source,
    ``shift_robust`` does the same for FracAtlas' size bins (training/acquisition.py); the
    bins mark FracAtlas' devices only, so they are not used beside another source.
    """
    train = data.train
    if len(data.sources) > 1:
        return source_weights(train.labels, train.source_of)
    if config.shift_robust:
        sides = original_long_sides(train.samples, Path(config.data[0]))
        return source_weights(train.labels, source_bins(sides))
    return None


def _handlers(
    config: TrainConfig, model: nn.Module, spec: InputSpec, data: _Data
) -> tuple[list[Handler], TrainingImages]:
    """The run's handlers, in the order the loop calls them, and its training images."""
    localises = hasattr(model, "forward_with_map")
    train, val, boxes = data.train, data.val, data.boxes
    handlers: list[Handler] = []
    if config.ema_decay:
        handlers.append(
            WeightAverage(
                model, config.ema_decay, train.inputs, val.inputs, val.labels, spec.channels
            )
        )
    masks = known = None
    if localises or config.shift_robust:
        masks, known = box_masks(train.samples, spec, boxes)
    if localises:
        val_masks, val_known = box_masks(val.samples, spec, boxes)
        localiser = LocaliserLoss(
            spec, masks, known, val.inputs, val.labels, val_masks, val_known,
            config.localiser_weight,
        )  # fmt: skip
        handlers.append(localiser)
    out = Path(config.out)
    # The log is written before the checkpoint that records its epoch.
    handlers += [EpochLog(out / "log.jsonl"), Checkpoints(out, config.keep_epochs)]
    handlers.append(EarlyStop(config.patience))
    images = TrainingImages(
        train.inputs, train.labels, spec.channels, masks, known, _draw(config, data),
        config.shift_robust,
    )  # fmt: skip
    return handlers, images


def train(config: TrainConfig) -> Path:
    """Train ``config.arch``; return the path of the best checkpoint (by val ROC-AUC).

    Resumes from ``out/last.pt`` when it exists. Stops at ``epochs``, after ``patience``
    epochs without val improvement, or when ``budget_minutes`` of training time are spent.
    Each feature a setting turns on is a handler (``training/handlers/``): ``ema_decay``
    a weight average that val scores and ``best.pt`` keeps, a localising network its map's
    loss (``localiser_weight``).
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    # The code that trains is the code checked out now, not when the run ends.
    code_commit = git_commit()
    seed_everything(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2))
    arch = architecture(config.arch, config.input_size)
    spec = arch.input_spec
    found = _data(config, spec)
    model = _network(config, arch)
    handlers, data = _handlers(config, model, spec, found)
    trained = [
        *(p for p in model.parameters() if p.requires_grad),
        *(p for handler in handlers for p in handler.parameters()),
    ]
    optimiser = torch.optim.AdamW(trained, lr=config.lr, weight_decay=config.weight_decay)
    # Weight positives by the class ratio so the rare class is not ignored.
    y_train = found.train.labels
    pos_weight = torch.tensor((len(y_train) - y_train.sum()) / max(y_train.sum(), 1.0))
    run = Run(model, optimiser, handlers, len(data))
    schedule = Schedule(config.lr, config.epochs, config.budget_minutes * 60.0, config.batch_size)
    val = found.val
    validation = Validation(val.inputs, val.labels, spec.channels, found.sources, val.source_of)
    run_epochs(run, data, schedule, nn.BCEWithLogitsLoss(pos_weight=pos_weight), validation)
    summary = {
        "arch": config.arch,
        "best_epoch": run.state["best_epoch"],
        "best_val_auc": run.state["best_auc"],
        "epochs_run": run.state["epoch"],
        "train_seconds": round(run.state["elapsed"], 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "code_commit": code_commit,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return out / "best.pt"
