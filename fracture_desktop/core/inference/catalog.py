"""The models a reader can choose from: the folders the app ships and any the reader added.

Reads model cards only (no torch), so the menu that lists them costs nothing to build.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fracture_desktop.core.errors import ModelError
from fracture_desktop.core.inference.card import CARD_FILE, ModelCard, load_card, missing_files
from fracture_desktop.core.paths import models_root


@dataclass(frozen=True)
class ModelChoice:
    """One model folder as the model menu shows it.

    Attributes
    ----------
    directory : Path
        The folder holding ``model_card.json`` and the weights.
    card : ModelCard or None
        None when the card cannot be read (``problem`` says why).
    problem : str
        Why the folder cannot be used; "" when it can be chosen.
    """

    directory: Path
    card: ModelCard | None = None
    problem: str = ""

    @property
    def roc_auc(self) -> float | None:
        """Test ROC AUC from the card's metrics, None when the card has none."""
        try:
            return float(self.card.raw["metrics"]["overall"]["roc_auc"]["value"])  # type: ignore[union-attr]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

    @property
    def forward_ms(self) -> float | None:
        """Milliseconds per image on one CPU thread, from the card, None when not measured."""
        try:
            return float(self.card.raw["metrics"]["speed_cpu_1_thread"]["forward_ms"])  # type: ignore[union-attr]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

    @property
    def description(self) -> str:
        """``"fracture_net-v3 1.0 · fracture_net · test ROC AUC 0.824 · 14 ms/image"``."""
        if self.card is None:
            return f"{self.directory.name} \u00b7 unusable: {self.problem}"
        parts = [f"{self.card.id} {self.card.version}", self.card.architecture]
        if self.roc_auc is not None:
            parts.append(f"test ROC AUC {self.roc_auc:.3f}")
        if self.forward_ms is not None:
            parts.append(f"{self.forward_ms:.0f} ms/image")
        if self.problem:
            parts.append(f"unusable: {self.problem}")
        return " \u00b7 ".join(parts)


def read_choice(directory: Path) -> ModelChoice:
    """The menu entry of one model folder; never raises for a bad folder."""
    try:
        card = load_card(directory)
    except ModelError as exc:
        return ModelChoice(Path(directory), None, exc.reason)
    try:
        problem = missing_files(card)
    except ModelError as exc:
        return ModelChoice(Path(directory), card, exc.reason)
    return ModelChoice(Path(directory), card, problem)


def available_models(added: Iterable[Path] = ()) -> list[ModelChoice]:
    """The shipped model folders (sorted by name), then those the reader ``added``."""
    root = models_root()
    shipped = (
        sorted(p for p in root.iterdir() if (p / CARD_FILE).is_file()) if root.is_dir() else []
    )
    folders = [*shipped, *(Path(p) for p in added if Path(p) not in shipped)]
    return [read_choice(folder) for folder in folders]
