"""A training run's settings, and the command line made from them.

:class:`TrainConfig` (``fracture-desktop train``) and :class:`LocaliserFitConfig`
(``fracture-desktop fit-localiser``) are the one place a setting is declared: their fields
give the option's name (``batch_size`` is ``--batch-size``), type, default and help, so the
subcommand's options (:func:`add_options`), the config a parsed command line makes
(:func:`config_from_options`) and the command line recorded for a run
(:func:`command_line`) cannot drift apart. Imports nothing heavy: the command line reads it
before a subcommand is chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


def _path(text: str) -> str:
    """A folder or file option, written as :class:`~pathlib.Path` writes it (``runs/x/``
    is ``runs/x``), as the command line has always stored them."""
    return str(Path(text))


def option(
    default: Any = dataclasses.MISSING,
    help_text: str | None = None,
    *,
    path: bool = False,
    recorded: bool = False,
) -> Any:
    """A config field and its command-line option.

    Parameters
    ----------
    default
        The field's default; without one the option is required.
    help_text
        The option's help.
    path
        Read the option as a path (see :func:`_path`).
    recorded
        Always write the option in a run's recorded command line, even at its default, since
        the schedule or the run's speed depends on it; other options appear when set.
    """
    metadata = {"help": help_text, "path": path, "recorded": recorded}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; saved beside its checkpoints."""

    COMMAND: ClassVar[str] = "train"
    arch: str = option(help_text="paper_cnn, fracture_net, efficientnet_b0, ...")
    data: tuple[str, ...] = option(
        help_text="training source folder with splits.csv; repeat it to train on several",
        path=True,
    )
    out: str = option(help_text="run folder: checkpoints and log", path=True)
    epochs: int = option(40, recorded=True)
    batch_size: int = option(32)
    lr: float = option(1e-3, recorded=True)
    weight_decay: float = option(1e-4, "AdamW's weight decay")
    budget_minutes: float = option(30.0, "wall-clock budget", recorded=True)
    patience: int = option(10, "epochs without val gain", recorded=True)
    seed: int = option(0)
    limit: int = option(0, "images per split (smoke tests)")
    cache_dir: str = option("cache", path=True)
    threads: int = option(0, "torch CPU threads (0: default)", recorded=True)
    input_size: int = option(0, "override the input size")
    init: str = option("", "start from these weights (fine-tuning)")
    ema_decay: float = option(0.0, "average the weights with this decay (0: off)")
    localiser_weight: float = option(
        1.0, "weight of the localisation head's box loss (localising networks only)"
    )
    shift_robust: bool = option(
        False,
        "randomise framing and acquisition, draw sources evenly (training/acquisition.py)",
    )
    keep_epochs: bool = option(False, "keep every epoch's weights")
    frozen_blocks: int = option(
        0, "keep the stem and this many first blocks fixed (EfficientNet fine-tunes)"
    )
    holdout: str = option(
        "", "train without a source or region, for the shift benchmarks (docs/experiments/)"
    )


@dataclass(frozen=True)
class LocaliserFitConfig:
    """A centre head fitted on a localising model's frozen network
    (:mod:`~fracture_desktop.training.localiser_fit`); the head trains with AdamW under a
    one-cycle learning rate, the size loss weighted beside the focal loss."""

    COMMAND: ClassVar[str] = "fit-localiser"
    model: str = option(help_text="localising model folder or training run to keep", path=True)
    data: tuple[str, ...] = option(
        help_text="training source folder with splits.csv; repeat it to fit on several",
        path=True,
    )
    out: str = option(help_text="run folder for export-model", path=True)
    views: int = option(
        4, "views of each fractured training image (the first is the image itself)", recorded=True
    )
    normal_views: int = option(1, "views of each non-fractured training image", recorded=True)
    framing: bool = option(
        False, "draw views with the shift-robust framing augmentation (zoom 0.6-1.4)"
    )
    epochs: int = option(30, recorded=True)
    lr: float = option(2e-3, recorded=True)
    batch_size: int = option(32, recorded=True)
    size_weight: float = option(0.1, "weight of the box-size loss", recorded=True)
    seed: int = option(0, recorded=True)
    threads: int = option(2, "torch CPU threads", recorded=True)
    cache_dir: str = option("cache", path=True)


#: A config: fields made by :func:`option`, and its subcommand's name in ``COMMAND``.
Config = TrainConfig | LocaliserFitConfig
C = typing.TypeVar("C", TrainConfig, LocaliserFitConfig)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING


def add_options(parser: argparse.ArgumentParser, kind_of: type[Config] = TrainConfig) -> None:
    """Add one option per field of ``kind_of`` to ``parser``: a switch for a flag
    (``bool``), else a typed value, required where the field has no default."""
    types = typing.get_type_hints(kind_of)
    for f in dataclasses.fields(kind_of):
        kind = types[f.name]
        help_text = f.metadata["help"]
        if kind is bool:
            parser.add_argument(_flag(f.name), action="store_true", help=help_text)
            continue
        value = _path if f.metadata["path"] else kind
        if typing.get_origin(kind) is tuple:
            # A repeatable option (``--data A --data B``).
            parser.add_argument(
                _flag(f.name), required=True, action="append", type=value, help=help_text
            )
            continue
        if _required(f):
            parser.add_argument(_flag(f.name), required=True, type=value, help=help_text)
        else:
            parser.add_argument(_flag(f.name), type=value, default=f.default, help=help_text)


def config_from_options(options: argparse.Namespace, kind_of: type[C]) -> C:
    """The config a command line parsed with :func:`add_options` asks for."""
    values = {f.name: getattr(options, f.name) for f in dataclasses.fields(kind_of)}
    return kind_of(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def command_line(config: Config) -> str:
    """The ``fracture-desktop`` command line that reproduces ``config``.

    Required and ``recorded`` options always appear, the others only where they differ from
    their default; each value is quoted for a POSIX shell where it needs it.
    """
    parts = [f"fracture-desktop {config.COMMAND}"]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not (_required(f) or f.metadata["recorded"] or value != f.default):
            continue
        if isinstance(value, bool):
            parts.append(_flag(f.name))
        elif isinstance(value, tuple):
            parts += [f"{_flag(f.name)} {shlex.quote(str(item))}" for item in value]
        else:
            parts.append(f"{_flag(f.name)} {shlex.quote(str(value))}")
    return " ".join(parts)


def config_from_record(record: dict[str, Any]) -> TrainConfig:
    """A run's saved ``config.json`` as a :class:`TrainConfig`; settings that a later
    version dropped are ignored, ones it added take their defaults."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    kept = {key: value for key, value in record.items() if key in names}
    # Runs made before several sources could be trained on record one folder.
    data = kept["data"]
    kept["data"] = (data,) if isinstance(data, str) else tuple(data)
    return TrainConfig(**kept)
