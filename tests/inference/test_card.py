"""The model card schema: one class reads, checks and writes it; the shipped cards pass."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fracture_desktop.core.errors import ModelUnavailableError
from fracture_desktop.core.findings import Thresholds
from fracture_desktop.core.inference.card import (
    CARD_FILE,
    INTENDED_USE,
    ModelCard,
    load_card,
    write_card,
)
from fracture_desktop.core.paths import models_root


def test_every_shipped_card_reads_and_writes_back_unchanged(tmp_path: Path) -> None:
    cards = sorted(models_root().glob(f"*/{CARD_FILE}"))
    assert cards, "no model folders in the repository"
    for path in cards:
        card = load_card(path.parent)
        raw = json.loads(path.read_text(encoding="utf-8"))
        # The typed fields are the ones in the file: writing changes no value.
        assert card.document() == raw, path
        copy = dataclasses.replace(card, directory=tmp_path / path.parent.name)
        copy.directory.mkdir()
        write_card(copy)
        assert load_card(copy.directory) == copy


def test_a_written_card_is_checked_before_it_reaches_the_disk(
    model_dir: Path, tmp_path: Path
) -> None:
    card = dataclasses.replace(load_card(model_dir), directory=tmp_path)
    assert card.intended_use == INTENDED_USE
    for bad in (
        dataclasses.replace(card, thresholds=Thresholds(fracture=0.3, doubt=0.6)),
        dataclasses.replace(card, temperature=0.0),
        dataclasses.replace(card, sha256="not-a-digest"),
    ):
        with pytest.raises(ModelUnavailableError, match="malformed"):
            write_card(bad)
    assert not (tmp_path / CARD_FILE).exists()


def test_impossible_values_in_a_card_file_are_refused(model_dir: Path, tmp_path: Path) -> None:
    raw = json.loads((model_dir / CARD_FILE).read_text(encoding="utf-8"))
    raw["thresholds"]["doubt"]["value"] = 1.5
    (tmp_path / CARD_FILE).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelUnavailableError, match="malformed"):
        load_card(tmp_path)
    (tmp_path / CARD_FILE).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelUnavailableError, match="malformed"):
        load_card(tmp_path)
    assert ModelCard.from_document(load_card(model_dir).document(), model_dir).id


def test_a_card_asking_for_an_input_step_after_the_window_is_refused(
    model_dir: Path, tmp_path: Path
) -> None:
    write_card(dataclasses.replace(load_card(model_dir), directory=tmp_path))
    raw = json.loads((tmp_path / CARD_FILE).read_text(encoding="utf-8"))
    raw["input"]["intensity"] = "window"
    (tmp_path / CARD_FILE).write_text(json.dumps(raw), encoding="utf-8")
    assert load_card(tmp_path).input_spec == load_card(model_dir).input_spec
    raw["input"]["intensity"] = "equalised"
    (tmp_path / CARD_FILE).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ModelUnavailableError, match="malformed"):
        load_card(tmp_path)
