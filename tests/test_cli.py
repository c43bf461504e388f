"""Command-line dispatch that is not covered by the scan and packaging tests."""

from __future__ import annotations

import sys

import pytest

from fracture_desktop import cli


def test_training_commands_without_the_train_extra_explain_themselves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    # None in sys.modules makes the import fail as it does in the desktop bundle.
    monkeypatch.setitem(sys.modules, "fracture_desktop.training.evaluate", None)
    code = cli.main(["evaluate", "--model", str(tmp_path), "--data", str(tmp_path)])
    assert code == 2
    assert "pip install 'fracture-desktop[train]'" in capsys.readouterr().err
