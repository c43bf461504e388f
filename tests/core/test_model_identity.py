"""The model is its weights and its card: cards checked, shipped cards pinned."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fracture_desktop.core.errors import ModelUnavailableError
from fracture_desktop.core.inference import shipped
from fracture_desktop.core.inference.card import CARD_FILE, NO_DOMAIN_CHECK, load_card
from fracture_desktop.core.paths import models_root
from fracture_desktop.core.report.entries import ModelIdentity


@pytest.fixture
def copy(shipped_model_dir: Path, tmp_path: Path) -> Path:
    """The shipped model's card in a folder of its own (the card is all these tests read)."""
    folder = tmp_path / shipped_model_dir.name
    folder.mkdir()
    shutil.copy(shipped_model_dir / CARD_FILE, folder / CARD_FILE)
    return folder


def _edit(folder: Path, change) -> None:
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    change(card)
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2), encoding="utf-8")


@pytest.mark.parametrize(
    ("fracture", "doubt"), [(0.0, 0.0), (1.0, 1.0), (0.5, 0.0), (1.0, 0.5), (0.3, 0.6)]
)
def test_thresholds_that_flag_all_or_nothing_are_refused(
    copy: Path, fracture: float, doubt: float
) -> None:
    def change(card: dict) -> None:
        card["thresholds"]["fracture"]["value"] = fracture
        card["thresholds"]["doubt"]["value"] = doubt

    _edit(copy, change)
    with pytest.raises(ModelUnavailableError) as refused:
        load_card(copy)
    assert "0 < doubt <= fracture < 1" in refused.value.details


@pytest.mark.parametrize("temperature", [1e-6, 0.0, -1.0, 1e6, float("inf"), float("nan")])
def test_an_absurd_temperature_is_refused(copy: Path, temperature: float) -> None:
    _edit(copy, lambda card: card["calibration"].update(temperature=temperature))
    with pytest.raises(ModelUnavailableError) as refused:
        load_card(copy)
    assert "temperature" in refused.value.details


def test_a_shipped_model_without_its_domain_section_is_refused(copy: Path) -> None:
    _edit(copy, lambda card: card.pop("domain"))
    with pytest.raises(ModelUnavailableError) as refused:
        load_card(copy)
    assert "released with a domain check" in refused.value.details


def test_a_shipped_id_with_another_card_is_reported_as_modified(copy: Path) -> None:
    card = load_card(copy)
    assert card.card_status == shipped.SHIPPED
    _edit(copy, lambda raw: raw.update(limitations=["edited"]))
    edited = load_card(copy)
    assert edited.card_status == shipped.MODIFIED and edited.card_sha256 != card.card_sha256
    identity = ModelIdentity.from_card(edited)
    assert identity.card_sha256 == edited.card_sha256
    assert "MODIFIED" in identity.card_text and identity.sha256_prefix == card.sha256[:12]


def test_the_card_digest_ignores_layout(copy: Path) -> None:
    digest = load_card(copy).card_sha256
    text = json.dumps(json.loads((copy / CARD_FILE).read_text(encoding="utf-8")), indent=7)
    (copy / CARD_FILE).write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    assert load_card(copy).card_sha256 == digest


def test_a_model_without_a_domain_check_says_so(model_dir: Path) -> None:
    card = load_card(model_dir)  # the untrained test model: not shipped, no check
    assert (card.card_status, card.domain_check) == (shipped.NOT_SHIPPED, NO_DOMAIN_CHECK)
    assert "NO DOMAIN CHECK" in ModelIdentity.from_card(card).card_text


def test_every_model_folder_in_the_package_is_pinned() -> None:
    """Fails when a model folder is added or its card changed without pinning it:
    ``python -m fracture_desktop.core.inference.shipped models/<id>``."""
    folders = sorted(p for p in models_root().iterdir() if (p / CARD_FILE).is_file())
    assert folders
    for folder in folders:
        card = load_card(folder)
        assert card.card_status == shipped.SHIPPED, folder.name
        assert shipped.released_with_domain_check(card.id) == bool(card.domain_file)


def test_pinning_rewrites_the_table(copy: Path, tmp_path: Path) -> None:
    source = tmp_path / "shipped.py"
    shutil.copy(shipped.__file__, source)
    _edit(copy, lambda raw: raw.update(id="efficientnet_lite0-v9"))
    table = shipped.pin([copy], source)
    assert table["efficientnet_lite0-v9"] == (load_card(copy).card_sha256, True)
    namespace: dict = {"__file__": str(source), "__name__": "pinned"}
    exec(compile(source.read_text(encoding="utf-8"), str(source), "exec"), namespace)
    assert namespace["SHIPPED_CARDS"] == table
