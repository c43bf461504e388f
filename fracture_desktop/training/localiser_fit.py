"""A centre head fitted on a localising model's frozen network.

The network kept is a released model folder or a finished training run. Its classifier
(backbone, embedding, logit) stays exactly as trained, so its probability, calibration,
thresholds and domain check carry over unchanged; only the head that draws boxes is new
(:class:`~fracture_desktop.core.inference.localiser.LocalisationHead` with box sizes,
trained as :mod:`~fracture_desktop.training.centre_targets` says). With the backbone
frozen, the pyramid features of every training view are computed once and the head trains
on them for many epochs: minutes of CPU instead of hours of fine-tuning.

The result is a run folder (``best.pt``, ``config.json``, ``summary.json``, ``log.jsonl``)
that ``fracture-desktop export-model`` releases like any training run; it chooses the
box threshold on ``val`` and scores the test split once.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.card import CARD_FILE, LocaliserSettings, load_card
from fracture_desktop.core.inference.engine import frozen
from fracture_desktop.core.inference.localiser import read_maps
from fracture_desktop.core.inference.models import ARCHITECTURES
from fracture_desktop.training.acquisition import framing_augmentation
from fracture_desktop.training.architectures import run_architecture
from fracture_desktop.training.augment import training_augmentation
from fracture_desktop.training.box_evaluation import box_cases, decode_all, usable_for_boxes
from fracture_desktop.training.box_metrics import box_report, froc
from fracture_desktop.training.centre_targets import centre_targets, focal_loss, size_loss
from fracture_desktop.training.config import LocaliserFitConfig, command_line
from fracture_desktop.training.dataset import cached_inputs, input_boxes, load_sources
from fracture_desktop.training.metrics import fit_temperature
from fracture_desktop.training.scoring import predict_logits
from fracture_desktop.training.train import git_commit, seed_everything

#: The network a centre head is fitted into, for each localising network it keeps: v3's
#: objectness head gives way to the centre head.
BOX_NETWORKS = {
    "efficientnet_lite0_loc": "efficientnet_lite0_boxes",
    "efficientnet_lite0_boxes": "efficientnet_lite0_boxes",
}


@dataclass(frozen=True)
class Kept:
    """The network a head is fitted on: its weights, input, and what its release says.

    ``temperature`` is None for a training run, which export-model has not calibrated yet.
    """

    arch: str
    weights: Path
    spec: InputSpec
    temperature: float | None
    val_auc: float | None


def kept_network(folder: Path) -> Kept:
    """What ``folder`` keeps: a model folder (with its card) or a ``train`` run folder."""
    if (folder / CARD_FILE).exists():
        card = load_card(folder)
        return Kept(
            card.architecture,
            folder / card.weights_file,
            card.input_spec,
            card.temperature,
            card.raw.get("training", {}).get("best_val_roc_auc"),
        )
    config = json.loads((folder / "config.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    arch = run_architecture(config)
    return Kept(arch.name, folder / "best.pt", arch.input_spec, None, summary["best_val_auc"])


@dataclass(frozen=True)
class Views:
    """Pyramid features (float16) of each view, and the maps its head should give."""

    features: tuple[np.ndarray, np.ndarray, np.ndarray]
    heat: np.ndarray
    sizes: np.ndarray
    centres: np.ndarray
    fractured: np.ndarray


def _moved(
    image: np.ndarray, rects: list[tuple[float, float, float, float]], transform: v2.Transform
) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """One augmented view of an input and its boxes (clipped; boxes pushed out dropped)."""
    size = image.shape[-1]
    boxes = tv_tensors.BoundingBoxes(
        torch.tensor(rects, dtype=torch.float32).reshape(-1, 4),
        format="XYXY",
        canvas_size=(size, size),
    )
    # A copy: the cached inputs are a read-only memory map.
    moved, moved_boxes = transform(tv_tensors.Image(torch.tensor(image)[None]), boxes)
    clipped = moved_boxes.as_subclass(torch.Tensor).clamp(0, size).tolist()
    kept = [(x0, y0, x1, y1) for x0, y0, x1, y1 in clipped if min(x1 - x0, y1 - y0) >= 1]
    return moved.as_subclass(torch.Tensor)[0].numpy(), kept


def pyramid_views(
    network: torch.nn.Module,
    inputs: np.ndarray,
    rects: list[list[tuple[float, float, float, float]]],
    labels: np.ndarray,
    views: tuple[int, int],
    transform: v2.Transform | None,
) -> Views:
    """Features and targets of ``views`` (fractured, normal) views per input; the first view
    of each is the input itself, the others drawn by ``transform``."""
    size = inputs.shape[-1]
    batch: list[np.ndarray] = []
    features: list[list[np.ndarray]] = [[], [], []]
    heat, sizes, centres, fractured = [], [], [], []

    def flush() -> None:
        if not batch:
            return
        x = torch.from_numpy(np.stack(batch))[:, None]
        with torch.inference_mode():
            taps, _ = network.pyramid(x.contiguous(memory_format=torch.channels_last), to_end=False)
        for kept, tap in zip(features, taps, strict=True):
            kept.append(tap.to(torch.float16).numpy())
        batch.clear()

    for image, boxes, label in zip(inputs, rects, labels, strict=True):
        for view in range(views[0] if label else views[1]):
            image_view, boxes_view = (
                _moved(np.asarray(image), boxes, transform)
                if transform is not None and view
                else (np.asarray(image), boxes)
            )
            target = centre_targets(boxes_view, size // 4, 4.0)
            batch.append(image_view)
            heat.append(target[0])
            sizes.append(target[1])
            centres.append(target[2])
            fractured.append(bool(label))
            if len(batch) == 64:
                flush()
    flush()
    fine, middle, coarse = (np.concatenate(kept) for kept in features)
    return Views(
        (fine, middle, coarse),
        np.stack(heat).astype(np.float16),
        np.stack(sizes),
        np.stack(centres),
        np.array(fractured),
    )


def _tensors(views: Views, index: np.ndarray) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(f[index]).float() for f in views.features)


def head_maps(head: torch.nn.Module, views: Views, batch_size: int = 64) -> np.ndarray:
    """The head's maps (as :func:`read_maps` gives them) for every view, in eval mode."""
    head.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(views.heat), batch_size):
            index = np.arange(start, min(start + batch_size, len(views.heat)))
            out.append(read_maps(head(_tensors(views, index))))
    return np.concatenate(out)


def fit_localiser(config: LocaliserFitConfig) -> Path:
    """Fit a centre head on ``config.model``'s frozen network; returns the run's ``best.pt``.

    The epoch kept is the one with the highest sum of pointing game and box sensitivity at
    one false box per image on ``val`` (the two figures the localiser is held to; the
    sensitivity with the box scores alone or times the image's probability, whichever is
    higher, as :func:`~fracture_desktop.training.box_evaluation.choose_localiser` chooses).
    """
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    code_commit = git_commit()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    every, boxes = load_sources([Path(d) for d in config.data])
    if not boxes:
        raise FileNotFoundError(f"{', '.join(config.data)}: no fracture box annotations")
    kept = kept_network(Path(config.model))
    spec = kept.spec
    if kept.arch not in BOX_NETWORKS:
        raise ValueError(
            f"{config.model} is a {kept.arch}; a centre head fits on one of {sorted(BOX_NETWORKS)}"
        )
    arch = BOX_NETWORKS[kept.arch]
    network = ARCHITECTURES[arch]()
    new_head = network.BOX_HEAD + "."
    released = torch.load(kept.weights, weights_only=True)
    body = {k: v for k, v in released.items() if not k.startswith(new_head)}
    missing, unexpected = network.load_state_dict(body, strict=False)
    if unexpected or any(not key.startswith(new_head) for key in missing):
        raise ValueError(f"{config.model} is not a network {arch} can keep")
    # The app's arithmetic (folded batch norms, channels-last) for the features; the head
    # trains on the unfolded copy.
    backbone = frozen(copy.deepcopy(network))
    started = time.monotonic()
    augmentation = framing_augmentation() if config.framing else training_augmentation()
    samples = {
        split: usable_for_boxes([s for s in every if s.split == split], boxes)
        for split in ("train", "val")
    }
    views, inputs = {}, {}
    for split, chosen in samples.items():
        rects = [input_boxes(boxes[s.image_id], spec) if s.label else [] for s in chosen]
        counts = (config.views, config.normal_views) if split == "train" else (1, 1)
        inputs[split] = cached_inputs(chosen, spec, Path(config.cache_dir))
        views[split] = pyramid_views(
            backbone,
            inputs[split],
            rects,
            np.array([s.label for s in chosen]),
            counts,
            None if split == "val" else augmentation,
        )
        print(f"{split}: {len(views[split].heat)} views", file=sys.stderr)
    # The classifier's calibrated probabilities on val, for boxes scored by them; a run's
    # temperature is fitted on val here as export-model will fit it.
    val_logits = predict_logits(backbone, inputs["val"], spec.channels)
    temperature = kept.temperature or fit_temperature(
        np.array([s.label for s in samples["val"]]), val_logits
    )
    val_probabilities = 1.0 / (1.0 + np.exp(-val_logits / temperature))
    val_cases = box_cases(samples["val"], boxes, spec)
    truth = [c.truth for c in val_cases]
    head = getattr(network, network.BOX_HEAD)
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=1e-4)
    steps = config.epochs * -(-len(views["train"].heat) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, config.lr, total_steps=steps, pct_start=0.1
    )
    best: dict[str, Any] = {"score": -1.0}
    history = []
    train = views["train"]
    for epoch in range(1, config.epochs + 1):
        head.train()
        order = np.random.permutation(len(train.heat))
        totals = np.zeros(2)
        for start in range(0, len(order), config.batch_size):
            index = np.sort(order[start : start + config.batch_size])
            raw = head(_tensors(train, index))
            heat_loss = focal_loss(raw[:, 0], torch.from_numpy(train.heat[index]).float())
            box_loss = size_loss(
                raw[:, 1:],
                torch.from_numpy(train.sizes[index]),
                torch.from_numpy(train.centres[index]),
            )
            loss = heat_loss + config.size_weight * box_loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            totals += [heat_loss.item() * len(index), box_loss.item() * len(index)]
        maps = head_maps(head, views["val"])
        everything = LocaliserSettings(threshold=0.0)
        report = box_report(
            decode_all(maps, spec, everything, None), truth, [c.area for c in val_cases]
        )
        weighted = froc(decode_all(maps, spec, everything, val_probabilities), truth)
        sensitivity = max(
            report["sensitivity_at_1_false_per_image"],
            weighted["sensitivity_at_1_false_per_image"],
        )
        score = report["pointing_game"] + sensitivity
        record = {
            "epoch": epoch,
            "focal_loss": round(totals[0] / len(order), 4),
            "size_loss": round(totals[1] / len(order), 4),
            "val_pointing_game": round(report["pointing_game"], 4),
            "val_sensitivity_at_1": round(report["sensitivity_at_1_false_per_image"], 4),
            "val_sensitivity_at_1_by_probability": round(
                weighted["sensitivity_at_1_false_per_image"], 4
            ),
            "val_ap_at_0.5": round(report["ap_at_0.5"], 4),
            "elapsed_s": round(time.monotonic() - started, 1),
        }
        history.append(record)
        print(json.dumps(record), file=sys.stderr)
        with open(out / "log.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        if score > best["score"]:
            best = {"score": score, "epoch": epoch}
            torch.save(network.state_dict(), out / "best.pt")
    run_config = {
        **asdict(config),
        "arch": arch,
        "input_size": spec.size,
        "command": command_line(config),
        "init": str(kept.weights),
    }
    (out / "config.json").write_text(json.dumps(run_config, indent=2))
    summary = {
        "arch": arch,
        "best_epoch": best["epoch"],
        # The classifier is the kept one, untouched: its val figure carries over.
        "best_val_auc": kept.val_auc,
        "best_val_localiser": history[best["epoch"] - 1],
        "epochs_run": len(history),
        "train_seconds": round(time.monotonic() - started, 1),
        "parameters": sum(p.numel() for p in network.parameters()),
        "code_commit": code_commit,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return out / "best.pt"
