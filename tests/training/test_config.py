"""The train command line, made from TrainConfig's fields: the options, the config a command
line asks for, and the command line recorded for a run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from fracture_desktop import cli
from fracture_desktop.training.config import (
    LocaliserFitConfig,
    TrainConfig,
    command_line,
    config_from_options,
    config_from_record,
)

REPO = Path(__file__).resolve().parents[2]

#: Every option the train subcommand had before it was generated, with its default.
OPTIONS = {
    "--epochs": 40, "--batch-size": 32, "--lr": 1e-3, "--budget-minutes": 30.0,
    "--patience": 10, "--seed": 0, "--limit": 0, "--cache-dir": "cache", "--threads": 0,
    "--input-size": 0, "--init": "", "--ema-decay": 0.0,
    "--localiser-weight": 1.0, "--shift-robust": False, "--keep-epochs": False,
    "--holdout": "", "--frozen-blocks": 0,
}  # fmt: skip
REQUIRED = ["--arch", "fracture_net", "--data", "data", "--out", "runs/x"]


def _parse(argv: list[str]) -> TrainConfig:
    return config_from_options(cli.build_parser().parse_args(["train", *argv]), TrainConfig)


def _train_parser(train_options: bool = True) -> argparse.ArgumentParser:
    parser = cli.build_parser(train_options)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_the_options_keep_their_names_and_defaults() -> None:
    flags = {
        action.option_strings[0]: action.default
        for action in _train_parser()._actions
        if action.option_strings and action.dest != "help"
    }
    assert {flag: flags[flag] for flag in OPTIONS} == OPTIONS
    # Every field is an option, with the name the field gives it.
    names = {"--" + f.name.replace("_", "-") for f in dataclasses.fields(TrainConfig)}
    assert set(flags) == names
    config = _parse(REQUIRED)
    assert config == TrainConfig("fracture_net", ("data",), "runs/x")
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--arch", "fracture_net", "--data", "d"])


def test_options_are_typed_and_paths_written_as_before() -> None:
    config = _parse(
        [*REQUIRED[:4], "--out", "./runs/x/", "--cache-dir", "c/", "--lr", "3e-4",
         "--epochs", "5", "--shift-robust", "--init", "a/b.pt"]
    )  # fmt: skip
    assert (config.out, config.cache_dir, config.init) == ("runs/x", "c", "a/b.pt")
    assert (config.lr, config.epochs, config.shift_robust) == (3e-4, 5, True)
    assert isinstance(config.epochs, int) and isinstance(config.budget_minutes, float)


def _model_md_commands() -> list[str]:
    text = (REPO / "docs" / "MODEL.md").read_text().replace("\\\n", " ")
    return re.findall(r"^fracture-desktop train .*$", text, flags=re.MULTILINE)


def test_every_train_command_in_model_md_still_parses() -> None:
    # MODEL.md reproduces the shipped model and its comparison rows; the experiment log in
    # docs/experiments/ keeps the commands of recipes whose options have since left.
    commands = _model_md_commands()
    assert len(commands) >= 2
    for command in commands:
        argv = shlex.split(command.replace("$D", "data"), comments=True)[2:]
        config = _parse(argv)
        # The recorded command line of that run asks for the same run.
        assert _parse(shlex.split(command_line(config))[2:]) == config, command


def test_the_recorded_command_line_reproduces_the_shipped_runs() -> None:
    cards = sorted((REPO / "models").glob("*/model_card.json"))
    assert cards
    for card in cards:
        saved = json.loads(card.read_text())["training"]["config"]
        config = config_from_record(saved)
        assert _parse(shlex.split(command_line(config))[2:]) == config, card


def test_the_command_line_shows_what_was_set_and_what_the_schedule_needs() -> None:
    config = TrainConfig("fracture_net", "my data", "runs/v3", ema_decay=0.998, keep_epochs=True)
    assert command_line(config) == (
        "fracture-desktop train --arch fracture_net --data 'my data' --out runs/v3 "
        "--epochs 40 --lr 0.001 --budget-minutes 30.0 --patience 10 --threads 0 "
        "--ema-decay 0.998 --keep-epochs"
    )


def test_a_saved_config_of_another_version_still_reads() -> None:
    saved = {"arch": "paper_cnn", "data": "d", "out": "o", "epochs": 3, "retired": 1}
    # Runs made before several sources could be trained on record one folder.
    assert config_from_record(saved) == TrainConfig("paper_cnn", ("d",), "o", epochs=3)


def test_train_without_the_training_code_explains_itself(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The desktop bundle leaves fracture_desktop.training out; None makes its import fail.
    monkeypatch.setitem(sys.modules, "fracture_desktop.training.config", None)
    assert cli.main(["train", *REQUIRED, "--epochs", "3"]) == 2
    assert "pip install 'fracture-desktop[train]'" in capsys.readouterr().err
    # The other subcommands still parse.
    assert cli.build_parser().parse_args(["scan", "folder"]).command == "scan"


def test_the_command_line_reads_the_options_only_for_train(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_code:
        cli.main(["train", "--help"])
    assert exit_code.value.code == 0
    assert "--frozen-blocks FROZEN_BLOCKS" in capsys.readouterr().out
    # Other commands list train without reading its options (the self-test checks that
    # they import no training code).
    assert "--frozen-blocks" not in _train_parser(train_options=False).format_help()


def test_fit_localiser_options_come_from_its_config_and_its_command_round_trips() -> None:
    config = LocaliserFitConfig(model="models/m", data=("d",), out="runs/y", views=8, framing=True)
    command = command_line(config)
    assert command.startswith("fracture-desktop fit-localiser --model models/m ")
    parsed = cli.build_parser().parse_args(shlex.split(command)[1:])
    assert config_from_options(parsed, LocaliserFitConfig) == config
    # The command recorded in the shipped v4's card reproduces its config.
    card = json.loads((REPO / "models/efficientnet_lite0-v4/model_card.json").read_text())
    recorded = card["training"]["config"]
    parsed = cli.build_parser().parse_args(shlex.split(recorded["command"])[1:])
    fields = {k: v for k, v in recorded.items() if k in LocaliserFitConfig.__dataclass_fields__}
    fields["data"] = (fields["data"],)  # recorded before several sources could be given
    assert config_from_options(parsed, LocaliserFitConfig) == LocaliserFitConfig(**fields)


def test_data_repeats_for_several_sources() -> None:
    config = _parse(["--arch", "fracture_net", "--data", "a", "--data", "b/", "--out", "r"])
    assert config.data == ("a", "b")
    assert "--data a --data b " in command_line(config)
    assert config_from_record(dataclasses.asdict(config)) == config
