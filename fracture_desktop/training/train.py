"""The training loop: fixed seeds, class weighting, time-aware cosine schedule, checkpoints.

Model choice uses the ``val`` split only (ROC-AUC); ``test`` is never read here.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from fracture_desktop.training.acquisition import (
    acquisition_noise,
    framing_augmentation,
    side_by_side,
    source_weights,
)
from fracture_desktop.training.architectures import architecture
from fracture_desktop.training.augment import (
    augment_batch,
    augment_batch_with_masks,
    training_augmentation,
)
from fracture_desktop.training.box_guidance import BoxGuide, cell_loss, positive_weight
from fracture_desktop.training.dataset import (
    ANNOTATIONS,
    Sample,
    box_masks,
    build_cache,
    fracture_boxes,
    holdout_subset,
    load_samples,
    original_long_sides,
    source_bins,
)
from fracture_desktop.training.distillation import EmbeddingHint, Teacher, distillation_loss
from fracture_desktop.training.scoring import (
    batches,
    predict_logits,
    predict_with_maps,
    top_cell_pointing,
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; saved beside its checkpoints."""

    arch: str
    data: str
    out: str
    epochs: int = 40
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    budget_minutes: float = 30.0
    patience: int = 10
    seed: int = 0
    limit: int = 0
    cache_dir: str = "cache"
    threads: int = 0
    input_size: int = 0
    init: str = ""
    box_weight: float = 0.0
    ema_decay: float = 0.0
    teacher: str = ""
    distill_weight: float = 0.5
    hint_weight: float = 0.0
    localiser_weight: float = 1.0
    shift_robust: bool = False
    keep_epochs: bool = False
    frozen_blocks: int = 0
    holdout: str = ""


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
    chosen = [s for s in samples if s.split == split]
    if limit:
        # Keep both classes in tiny smoke-test subsets.
        pos = [s for s in chosen if s.label][: max(1, limit // 2)]
        neg = [s for s in chosen if not s.label][: limit - len(pos)]
        chosen = pos + neg
    return chosen


def _load_init(model: nn.Module, path: Path) -> None:
    """Load starting weights; a localisation head that they lack starts fresh."""
    missing, unexpected = model.load_state_dict(torch.load(path, weights_only=True), strict=False)
    if unexpected or any(not key.startswith("_localiser.") for key in missing):
        raise ValueError(f"{path} does not fit: missing {missing}, unexpected {unexpected}")


def _freeze_early_layers(model: nn.Module, blocks: int) -> None:
    """Keep the stem and the first ``blocks`` blocks of an EfficientNet at their starting
    weights: on two CPU cores the backward pass through the full-resolution layers costs
    about half of a training step, and a fine-tune needs them least."""
    for layer in (model._conv_stem, model._bn0, *model._blocks[:blocks]):
        layer.requires_grad_(False)


def _auc(labels: np.ndarray, logits: np.ndarray) -> float:
    """Val ROC-AUC; 0.5 when a tiny smoke subset holds one class only."""
    return float(roc_auc_score(labels, logits)) if len(set(labels)) > 1 else 0.5


def _progress(epoch: int, step: int, steps: int, loss: float) -> None:
    filled = int(30 * step / max(steps, 1))
    bar = "#" * filled + "-" * (30 - filled)
    print(f"\repoch {epoch:3d} [{bar}] {step}/{steps} loss {loss:.4f}", end="", file=sys.stderr)


def train(config: TrainConfig) -> Path:
    """Train ``config.arch``; return the path of the best checkpoint (by val ROC-AUC).

    Resumes from ``out/last.pt`` when it exists. Stops at ``epochs``, after ``patience``
    epochs without val improvement, or when ``budget_minutes`` of training time are spent.
    A ``box_weight`` above 0 adds :class:`BoxGuide`'s loss on the training boxes, with that
    weight beside the image-level loss. An ``ema_decay`` above 0 keeps an exponential moving
    average of the weights, with batch-norm statistics measured for it on the training
    images each epoch; val then scores the average, and ``best.pt`` holds it. A ``teacher``
    run folder adds the distillation loss on the teacher's scores of the same batches, with
    weight ``distill_weight`` and the image-level loss with ``1 - distill_weight``; a
    ``hint_weight`` above 0 adds :class:`EmbeddingHint`'s loss on the teacher's embedding of
    the same batches, with that weight.
    """
    if config.hint_weight and not config.teacher:
        raise ValueError("an embedding hint needs a teacher")
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
    samples = load_samples(Path(config.data))
    if config.holdout:
        # Val is cut like train: choosing the epoch on held-out images would leak them.
        samples = holdout_subset(samples, Path(config.data), config.holdout, "train")
    train_set = _subset(samples, "train", config.limit)
    val_set = _subset(samples, "val", config.limit)
    x_train = build_cache(train_set, spec, Path(config.cache_dir))
    x_val = build_cache(val_set, spec, Path(config.cache_dir))
    y_train = np.array([s.label for s in train_set], dtype=np.float32)
    y_val = np.array([s.label for s in val_set], dtype=np.int64)

    model = arch.build()
    localises = hasattr(model, "forward_with_map")
    if config.init:
        # Fine-tuning, e.g. at a higher resolution than the run the weights come from, or a
        # classifier's weights growing a new localisation head.
        _load_init(model, Path(config.init))
    if config.frozen_blocks:
        _freeze_early_layers(model, config.frozen_blocks)
    # Channels-last runs oneDNN's convolutions, depthwise ones above all: a Lite0 training
    # step on one CPU thread takes about half the time it takes in the default layout.
    model = model.to(memory_format=torch.channels_last)
    # On 2,400 images the weights after any one step are noisy; their running average
    # generalises better and makes the best-epoch choice less of a lottery. Made before
    # the box guide hooks the network, so that the average's copy carries no hook.
    ema = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=False)
        if config.ema_decay
        else None
    )
    scored = ema.module if ema else model
    guide = None
    needs_masks = config.box_weight or localises or config.shift_robust
    if needs_masks:
        boxes = fracture_boxes(Path(config.data) / ANNOTATIONS)
        masks, known = box_masks(train_set, spec, boxes)
    if config.box_weight:
        guide = BoxGuide(model, spec)
        cell_weight = guide.positive_weight(masks, known)
    if localises:
        map_grid = (spec.size // 4, spec.size // 4)
        map_weight = positive_weight(masks, known, map_grid)
        val_masks, val_known = box_masks(val_set, spec, boxes)
    # Draw each source equally often within each class (see training/acquisition.py).
    draw = (
        source_weights(y_train, source_bins(original_long_sides(train_set, Path(config.data))))
        if config.shift_robust
        else None
    )
    teacher = Teacher(Path(config.teacher), spec) if config.teacher else None
    hint = (
        EmbeddingHint(model, spec, *teacher.embedding_statistics(batches(x_train, 1)))
        if teacher and config.hint_weight
        else None
    )
    trained = [
        *(p for p in model.parameters() if p.requires_grad),
        *(guide.parameters() if guide else []),
        *(hint.parameters() if hint else []),
    ]
    optimiser = torch.optim.AdamW(trained, lr=config.lr, weight_decay=config.weight_decay)
    # Weight positives by the class ratio so the rare class is not ignored.
    pos_weight = torch.tensor((len(y_train) - y_train.sum()) / max(y_train.sum(), 1.0))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    transform = framing_augmentation() if config.shift_robust else training_augmentation()
    state = {"epoch": 0, "elapsed": 0.0, "best_auc": -1.0, "best_epoch": -1, "history": []}
    last = out / "last.pt"
    if last.is_file():
        ckpt = torch.load(last, weights_only=False)
        model.load_state_dict(ckpt["model"])
        if guide:
            guide.load_state_dict(ckpt["guide"])
        if hint:
            hint.load_state_dict(ckpt["hint"])
        if ema:
            ema.load_state_dict(ckpt["ema"])
        optimiser.load_state_dict(ckpt["optimiser"])
        state = ckpt["state"]
        torch.set_rng_state(ckpt["torch_rng"])
        np.random.set_state(ckpt["numpy_rng"])
        print(f"resumed at epoch {state['epoch']}", file=sys.stderr)

    budget = config.budget_minutes * 60.0
    steps = math.ceil(len(train_set) / config.batch_size)
    while state["epoch"] < config.epochs and state["elapsed"] < budget:
        epoch = state["epoch"] + 1
        started = time.monotonic()
        model.train()
        order = (
            np.random.choice(len(train_set), len(train_set), p=draw)
            if draw is not None
            else np.random.permutation(len(train_set))
        )
        total, box_total, distill_total, hint_total, seen = 0.0, 0.0, 0.0, 0.0, 0
        map_total = 0.0
        for step in range(steps):
            # Cosine decay over whichever runs out first: epochs or wall-clock budget.
            done = max(
                (epoch - 1 + step / steps) / config.epochs,
                (state["elapsed"] + time.monotonic() - started) / budget,
            )
            for group in optimiser.param_groups:
                group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
            idx = np.sort(order[step * config.batch_size : (step + 1) * config.batch_size])
            x = torch.from_numpy(np.asarray(x_train[idx]))[:, None]
            y = torch.from_numpy(y_train[idx])
            if needs_masks:
                box_mask = torch.from_numpy(masks[idx])[:, None]
                mask_known = torch.from_numpy(known[idx])
                if config.shift_robust:
                    x, box_mask, y, mask_known = side_by_side(x, box_mask, y, mask_known, 0.1)
                x, box_mask = augment_batch_with_masks(x, box_mask, transform)
                if config.shift_robust:
                    x = torch.stack(
                        [acquisition_noise(i, m) for i, m in zip(x, box_mask, strict=True)]
                    )
            else:
                x = augment_batch(x, transform)
            net_input = x.expand(-1, spec.channels, -1, -1).contiguous(
                memory_format=torch.channels_last
            )
            if localises:
                logits, raw_maps = model.forward_with_map(net_input)
                map_logits = raw_maps[:, 0]
            else:
                logits = model(net_input)
            loss = loss_fn(logits, y)
            total += loss.item() * len(idx)
            if teacher:
                teacher_logits, teacher_embedding = teacher.scores(x)
                distill = distillation_loss(logits, teacher_logits)
                distill_total += distill.item() * len(idx)
                loss = (1 - config.distill_weight) * loss + config.distill_weight * distill
            if hint:
                hint_loss = hint.loss(teacher_embedding)
                hint_total += hint_loss.item() * len(idx)
                loss = loss + config.hint_weight * hint_loss
            if guide:
                box_loss = guide.loss(box_mask, mask_known, cell_weight)
                box_total += box_loss.item() * len(idx)
                loss = loss + config.box_weight * box_loss
            if localises:
                map_loss = cell_loss(map_logits, box_mask, mask_known, map_weight)
                map_total += map_loss.item() * len(idx)
                loss = loss + config.localiser_weight * map_loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if ema:
                ema.update_parameters(model)
            seen += len(idx)
            _progress(epoch, step + 1, steps, total / seen)
        if ema:
            # Batch-norm statistics averaged beside the weights do not fit the averaged
            # weights (from scratch: val ROC-AUC 0.57, against 0.82 once measured again),
            # so the average's statistics are measured on the training images.
            update_bn(batches(x_train, spec.channels), ema.module)
        if localises:
            val_logits, val_maps = predict_with_maps(scored, x_val, spec.channels)
            val_pointing = top_cell_pointing(val_maps, val_masks, val_known & (y_val == 1))
        else:
            val_logits = predict_logits(scored, x_val, spec.channels)
        val_auc = _auc(y_val, val_logits)
        state["elapsed"] += time.monotonic() - started
        state["epoch"] = epoch
        record = {
            "epoch": epoch,
            "train_loss": total / len(train_set),
            **({"box_loss": box_total / len(train_set)} if guide else {}),
            **({"distill_loss": distill_total / len(train_set)} if teacher else {}),
            **({"hint_loss": hint_total / len(train_set)} if hint else {}),
            **({"map_loss": map_total / len(train_set)} if localises else {}),
            "val_auc": val_auc,
            **({"val_pointing": val_pointing} if localises else {}),
            # What the average gains over the latest weights, epoch by epoch.
            **(
                {"val_auc_raw": _auc(y_val, predict_logits(model, x_val, spec.channels))}
                if ema
                else {}
            ),
            "elapsed_s": round(state["elapsed"], 1),
        }
        state["history"].append(record)
        print(f"\n{json.dumps(record)}", file=sys.stderr)
        with open(out / "log.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        if val_auc > state["best_auc"]:
            state["best_auc"], state["best_epoch"] = val_auc, epoch
            torch.save(scored.state_dict(), out / "best.pt")
        if config.keep_epochs:
            # For a choice on val by more than one figure (classifier and localiser).
            torch.save(scored.state_dict(), out / f"epoch-{epoch:03d}.pt")
        torch.save(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                **({"guide": guide.state_dict()} if guide else {}),
                **({"hint": hint.state_dict()} if hint else {}),
                **({"ema": ema.state_dict()} if ema else {}),
                "state": state,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": np.random.get_state(),
            },
            last,
        )
        if epoch - state["best_epoch"] >= config.patience:
            print(f"early stop: no val gain for {config.patience} epochs", file=sys.stderr)
            break
    summary = {
        "arch": config.arch,
        "best_epoch": state["best_epoch"],
        "best_val_auc": state["best_auc"],
        "epochs_run": state["epoch"],
        "train_seconds": round(state["elapsed"], 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "code_commit": code_commit,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return out / "best.pt"
