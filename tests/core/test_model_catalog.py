"""The model menu's catalog: shipped folders with their card's architecture, AUC and speed."""

from __future__ import annotations

import shutil
from pathlib import Path

from fracture_desktop.core.inference.card import SHIPPED_MODEL_ID
from fracture_desktop.core.inference.catalog import available_models, read_choice
from fracture_desktop.core.paths import models_root


def test_shipped_models_are_listed_with_their_card_facts() -> None:
    choices = available_models()
    names = [c.directory.name for c in choices]
    assert SHIPPED_MODEL_ID in names and "fracture_net-v3" in names
    ours = next(c for c in choices if c.directory.name == "fracture_net-v3")
    assert ours.problem == "" and ours.card is not None
    assert ours.card.architecture == "fracture_net"
    assert 0.5 < ours.roc_auc < 1.0 and ours.forward_ms > 0
    assert "fracture_net" in ours.description and "test ROC AUC 0.8" in ours.description


def test_a_folder_the_reader_added_is_listed_and_a_broken_one_says_why(tmp_path: Path) -> None:
    copy = tmp_path / "mine"
    shutil.copytree(models_root() / "fracture_net-v1", copy)
    (copy / "weights.pt").unlink()
    # The graph alone serves ONNX Runtime, as in the desktop build.
    assert read_choice(copy).problem == ""
    (copy / "model.onnx").unlink()
    broken = tmp_path / "broken"
    broken.mkdir()
    choices = available_models([copy, broken])
    assert [c.directory for c in choices[-2:]] == [copy, broken]
    assert choices[-2].problem == "weights missing"
    assert "no model card" in read_choice(broken).problem
    assert "unusable" in choices[-1].description
