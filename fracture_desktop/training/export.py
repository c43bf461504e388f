"""Write a model folder the app can load: ``weights.pt`` + ``model_card.json``."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from fracture_desktop.core.errors import ModelUnavailableError
from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.findings import Thresholds
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.inference.card import (
    CARD_FILE,
    INPUT_RULES,
    ModelCard,
    load_card,
    localiser_settings,
    write_card,
)
from fracture_desktop.core.inference.models import ARCHITECTURES
from fracture_desktop.training.config import command_line, config_from_record

WEIGHTS_FILE = "weights.pt"


def write_model_dir(
    state: dict[str, torch.Tensor],
    arch: str,
    spec: InputSpec,
    directory: Path,
    card: dict[str, Any],
) -> ModelCard:
    """Save a state_dict of ``arch`` and a card completed with input, weights and sha256.

    ``card`` supplies the run-specific parts (id, version, thresholds, calibration, metrics,
    training, ...); the parts that follow from the architecture and the file are filled here
    so they cannot disagree with the weights.
    """
    model = ARCHITECTURES[arch]()
    try:
        # The app builds ARCHITECTURES[arch] and loads the file strictly: refuse anything
        # else here, such as a copy whose batch norms were folded for inference.
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"these weights do not fit the app's {arch!r}: {exc}") from exc
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS_FILE
    torch.save(state, weights)
    sections = {k: v for k, v in card.items() if k not in ("id", "version")}
    architecture = sections.pop("architecture", {})
    model_card = ModelCard(
        directory=directory,
        id=card["id"],
        version=str(card["version"]),
        architecture=arch,
        input_spec=spec,
        temperature=float(card["calibration"]["temperature"]),
        thresholds=Thresholds(
            fracture=float(card["thresholds"]["fracture"]["value"]),
            doubt=float(card["thresholds"]["doubt"]["value"]),
        ),
        weights_file=WEIGHTS_FILE,
        sha256=file_sha256(weights),
        mirror_average=bool(architecture.get("mirror_average", False)),
        localiser=localiser_settings(card.get("localiser")),
        raw={
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **sections,
            "architecture": {
                **architecture,
                "parameters": sum(p.numel() for p in model.parameters()),
            },
            "input": {
                "function": "fracture_desktop.core.imaging.model_input.model_input",
                "rules": INPUT_RULES,
            },
        },
    )
    write_card(model_card)
    card_out = load_card(directory)
    (directory / "README.md").write_text(model_readme(card_out.raw), encoding="utf-8")
    return card_out


def _interval(metric: dict[str, float] | None) -> str:
    if not metric:
        return "n/a"
    return f"{metric['value']:.3f} (95% CI {metric['low']:.3f}-{metric['high']:.3f})"


def model_readme(card: dict[str, Any]) -> str:
    """A human summary of a model card; the card stays the source of truth."""
    th = card["thresholds"]
    overall = card.get("metrics", {}).get("overall", {})
    lines = [
        f"# {card['id']} {card['version']}",
        "",
        card["intended_use"],
        "",
        f"- Architecture: `{card['architecture']['name']}`, "
        f"{card['architecture']['parameters']:,} parameters",
        f"- Input: {card['input']['size']} px, {card['input']['channels']} channel(s), "
        f"{'letterboxed' if card['input']['letterbox'] else 'stretched'}; {card['input']['rules']}",
        f"- Output: {card['output']}; temperature {card['calibration']['temperature']:.3f}",
        f"- Thresholds: fracture >= {th['fracture']['value']:.3f} ({th['fracture']['rule']}); "
        f"doubt >= {th['doubt']['value']:.3f} ({th['doubt']['rule']})",
        f"- Weights: `{card['weights']['file']}`, sha256 `{card['weights']['sha256']}`",
    ]
    if "domain" in card:
        domain = card["domain"]
        lines.append(
            f"- Domain check: `{domain['file']}`, sha256 `{domain['sha256']}`; fitted on "
            f"{domain['fitted_on']}, {domain['val_pass_rate']:.1%} of {domain['threshold_split']} "
            "inside; images above the threshold are flagged `outside domain`"
        )
    if overall:
        points = overall["operating_points"]
        lines += [
            "",
            f"## Test split ({overall['n']} images, {overall['positives']} fractured)",
            "",
            f"- ROC-AUC {_interval(overall.get('roc_auc'))}",
            f"- PR-AUC {_interval(overall.get('pr_auc'))}",
        ]
        for name in ("fracture", "doubt"):
            p = points[name]
            lines.append(
                f"- At `{name}`: sensitivity {p['recall_sensitivity']:.3f}, "
                f"specificity {p['specificity']:.3f}, precision {p['precision']:.3f}"
            )
        lines += ["", "Per body region and hardware subgroup: see `model_card.json`."]
    if "training" in card:
        lines += ["", "## Training", "", f"`{card['training']['command']}`", ""]
        lines.append(card["training"]["data_credit"])
    if "limitations" in card:
        lines += ["", "## Limitations", ""] + [f"- {item}" for item in card["limitations"]]
    return "\n".join(lines) + "\n"


def untrained_model_dir(
    directory: Path, arch: str = "fracture_net", seed: int = 0, mirror_average: bool = False
) -> ModelCard:
    """A loadable model with random weights: for tests and smoke runs, never for reading."""
    torch.manual_seed(seed)
    card: dict[str, Any] = {
        "id": f"{arch}-untrained",
        "version": "0.0.0",
        "calibration": {"temperature": 1.0},
        "thresholds": {
            "fracture": {"value": 0.6, "rule": "fixed for tests"},
            "doubt": {"value": 0.4, "rule": "fixed for tests"},
        },
        "metrics": {},
        "architecture": {"mirror_average": mirror_average},
    }
    cls = ARCHITECTURES[arch]
    return write_model_dir(cls().state_dict(), arch, cls.input_spec, directory, card)


#: What a card says of each training source it knows by its folder's name: credit and
#: licence. A source it does not know is named by its folder and its README's terms apply.
SOURCE_CREDITS = {
    "fracatlas": (
        "FracAtlas: Abedeen I. et al., 'FracAtlas: A Dataset for Fracture Classification, "
        "Localization and Segmentation of Musculoskeletal Radiographs', Scientific Data 10, 521 "
        "(2023), doi:10.1038/s41597-023-02432-4; data doi:10.6084/m9.figshare.22363012. "
        "CC BY 4.0."
    ),
    "mura_roboflow": (
        "'Bone Fracture Detection' (Roboflow Universe veda/bone-fracture-detection-daoon v4, "
        "released as CC BY 4.0), deduplicated; its images appear to come from MURA "
        "(Rajpurkar P. et al., 'MURA: Large Dataset for Abnormality Detection in "
        "Musculoskeletal Radiographs', 2017; Stanford AIMI), whose terms allow research use "
        "only: a model trained on it is a research model."
    ),
}
LIMITATIONS = [
    "No patient-level split is possible (neither source has patient identifiers), so "
    "related images may sit on both sides of a split.",
    "Images with orthopaedic hardware are almost all fractured in FracAtlas, and many "
    "fractured images of the MURA-derived source show plates, screws or casts: the model may "
    "use hardware as a shortcut; see the hardware / no_hardware subgroup metrics.",
    "Validated on the test splits of its training sources only; not on children's "
    "radiographs as a group, nor on modalities other than radiography.",
    "Heatmaps show where the network looked, not where a fracture is.",
]


def source_credits(sources: list[str]) -> str:
    """The credit and licence of each training source, one paragraph each."""
    return "\n\n".join(
        SOURCE_CREDITS.get(name, f"{name}: see its README for credit and licence.")
        for name in sources
    )


def initialised_from(init: str | None) -> dict[str, Any] | None:
    """What a fine-tune started from, for its card: the run's summary and training command
    when ``init`` is a run's checkpoint, the model's id, version, sha256 and training when it
    is a shipped model's weights, else just the path.
    """
    if not init:
        return None
    folder = Path(init).parent
    if (folder / "summary.json").is_file():
        parent = json.loads((folder / "summary.json").read_text())
        if (folder / "config.json").is_file():
            config = json.loads((folder / "config.json").read_text())
            parent["command"] = command_line(config_from_record(config))
            parent["initialised_from"] = initialised_from(config.get("init") or None)
        return parent
    if (folder / CARD_FILE).is_file():
        card = load_card(folder)
        return {
            "model": card.id,
            "version": card.version,
            "sha256": card.sha256,
            "training": card.raw.get("training"),
        }
    return {"weights": init}


def release_model(
    run_dir: Path,
    data: list[Path],
    out_dir: Path,
    eval_dir: Path,
    model_id: str,
    version: str,
    cache_dir: Path,
    mirror_average: bool = False,
) -> ModelCard:
    """Calibrate a finished run on ``val``, score it once on ``test``, write the model folder,
    fit its domain check (:func:`~fracture_desktop.training.domain_fit.fit_model_dir`) and
    write its ONNX graph (:func:`~fracture_desktop.training.onnx_export.export_onnx`) where
    one can be made for the network.

    ``data`` holds one or several sources: temperature, thresholds and the domain check are
    fitted on all of them together, and each source's test split is scored on its own
    (``eval_dir/<source>`` when there are several, beside the pooled figures).
    The card records the thresholds and temperature (from ``val``), the ``test`` metrics
    with their intervals, and how the run was made (config, epochs, wall time, commit).
    With ``mirror_average`` the model scores each image with its left-right mirror
    (:class:`~fracture_desktop.core.inference.mirror.MirrorAverage`), from calibration on.
    """
    from fracture_desktop.training.evaluate import (
        calibrate_run,
        default_boxes,
        evaluate_model,
        evaluation_samples,
    )

    run_dir = Path(run_dir)
    roots = [Path(d) for d in data]
    engine, parts = calibrate_run(run_dir, roots, cache_dir, mirror_average)
    tests = {root.name: evaluation_samples(root, "test") for root in roots}
    per_source = {
        root.name: evaluate_model(
            engine,
            tests[root.name],
            eval_dir / root.name if len(roots) > 1 else eval_dir,
            cache_dir,
            default_boxes(root),
        )
        for root in roots
    }
    report = next(iter(per_source.values()))
    if len(roots) > 1:
        pooled = [s for found in tests.values() for s in found]
        report = evaluate_model(engine, pooled, eval_dir / "pooled", cache_dir)
    config = json.loads((run_dir / "config.json").read_text())
    run = json.loads((run_dir / "summary.json").read_text())
    card = {
        "id": model_id,
        "version": version,
        **parts,
        "training": {
            "data": " + ".join(tests),
            "data_credit": source_credits(list(tests)),
            "split_file": "each source's splits.csv (fixed)",
            # A head fitted by fit-localiser records its own command.
            "command": config.get("command") or command_line(config_from_record(config)),
            "config": config,
            "code_commit": run.get("code_commit", "unknown"),
            "epochs_run": run["epochs_run"],
            "best_epoch": run["best_epoch"],
            "best_val_roc_auc": run["best_val_auc"],
            "wall_time_s": run["train_seconds"],
            "initialised_from": initialised_from(config.get("init") or None),
            "hardware": f"{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPU cores, no GPU",
        },
        "metrics": {
            "split": "test",
            "overall": report["overall"],
            "subgroups": report["subgroups"],
            "localisation": report.get("localisation"),
            "boxes": report.get("boxes"),
            "speed_cpu_1_thread": report["speed_cpu_1_thread"],
            "per_source": {
                name: {
                    "overall": found["overall"],
                    "subgroups": found["subgroups"],
                    "boxes": found.get("boxes"),
                }
                for name, found in per_source.items()
            },
        },
        "limitations": LIMITATIONS,
        "architecture": {"mirror_average": mirror_average},
    }
    # The engine's copy has its batch norms folded for inference; the folder keeps the
    # weights as trained, which the app folds the same way when it loads them.
    from fracture_desktop.training.domain_fit import fit_model_dir
    from fracture_desktop.training.onnx_export import export_onnx

    trained = torch.load(run_dir / "best.pt", weights_only=True)
    write_model_dir(trained, config["arch"], engine.card.input_spec, out_dir, card)
    fitted = fit_model_dir(out_dir, data, cache_dir)
    try:
        return export_onnx(out_dir)
    except ModelUnavailableError as exc:  # a network without a graph: torch reads it
        print(f"no ONNX graph: {exc.reason}")
        return fitted
