"""Site profiles: thresholds a site chose on its own labelled cases, for one exact model.

The card's thresholds were set on FracAtlas ``val``; a site whose images differ can check the
model on its own cases (``fracture-desktop validate``) and adopt the thresholds found there by
the same rule. A profile is bound to the model's weights by their sha256: a profile made for
another model is refused, never silently applied. Profiles live in the user data directory,
one file per model, never in a study folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fracture_desktop.core.errors import ModelError
from fracture_desktop.core.findings import CARD_THRESHOLDS, Thresholds
from fracture_desktop.core.inference.card import ModelCard
from fracture_desktop.core.paths import user_data_dir

if TYPE_CHECKING:
    from fracture_desktop.core.inference.prediction import Engine

#: Overrides the profile folder (tests, or a site that shares one folder between machines).
PROFILE_DIR_ENV = "FRACTURE_DESKTOP_PROFILE_DIR"


class SiteProfileError(ModelError):
    """A site profile that cannot be used: another model's, unreadable, or without
    thresholds. A model error: the model is not used with thresholds it was not meant to
    have until the profile is dropped."""


@dataclass(frozen=True)
class SiteProfile:
    """Thresholds validated on a site's own cases.

    Attributes
    ----------
    model_id, model_sha256 : str
        The model the validation ran; the profile applies to these exact weights only.
    created : str
        ISO date and time of the validation.
    n_images, n_positive, n_negative : int
        Labelled images the thresholds were chosen on.
    thresholds : Thresholds
        Chosen by the card's rule (``docs/MODEL.md``) on the site's images.
    roc_auc : float
        The model's ROC-AUC on them.
    source : str
        The validated folder, as given.
    """

    model_id: str
    model_sha256: str
    created: str
    n_images: int
    n_positive: int
    n_negative: int
    thresholds: Thresholds
    roc_auc: float
    source: str

    @property
    def label(self) -> str:
        """How outputs name these thresholds, e.g. ``site profile 2026-11-29 (60 images)``."""
        return f"site profile {self.created[:10]} ({self.n_images} images)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SiteProfile:
        try:
            return cls(**{**raw, "thresholds": Thresholds(**raw["thresholds"])})
        except (KeyError, TypeError) as exc:
            raise SiteProfileError("the site profile is malformed", repr(exc)) from exc


def profiles_dir() -> Path:
    """The folder of site profiles: the user data directory unless overridden."""
    override = os.environ.get(PROFILE_DIR_ENV)
    if override:
        return Path(override)
    return user_data_dir() / "site_profiles"


def profile_path(model_sha256: str) -> Path:
    return profiles_dir() / f"{model_sha256}.json"


def save_profile(profile: SiteProfile) -> Path:
    """Store ``profile`` as the one in use for its model (atomically); returns its path."""
    path = profile_path(profile.model_sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(profile.as_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_profile(model_sha256: str) -> SiteProfile | None:
    """The profile stored for the model with these weights, or None.

    Raises
    ------
    SiteProfileError
        The file cannot be read, or it names other weights than its file name says (a
        copied or edited file): refused rather than applied to the wrong model.
    """
    path = profile_path(model_sha256)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SiteProfileError("the site profile cannot be read", f"{path}: {exc!r}") from exc
    profile = SiteProfile.from_dict(raw)
    check_profile(profile, model_sha256)
    return profile


def check_profile(profile: SiteProfile, model_sha256: str) -> None:
    """Raise :class:`SiteProfileError` unless ``profile`` was made with these weights."""
    if profile.model_sha256 != model_sha256:
        raise SiteProfileError(
            "this site profile was made for another model; refusing to use it",
            f"profile for {profile.model_id} sha256 {profile.model_sha256}, "
            f"model in use sha256 {model_sha256}",
        )


def drop_profile(model_sha256: str) -> bool:
    """Delete the model's profile; True if there was one."""
    path = profile_path(model_sha256)
    if not path.is_file():
        return False
    path.unlink()
    return True


def profile_from_validation(report: dict[str, Any], model_sha256: str) -> SiteProfile:
    """The profile a ``fracture-desktop validate`` report proposes, for the model in use.

    Raises
    ------
    SiteProfileError
        The report was made with another model, or it chose no site thresholds (too few
        positives or negatives).
    """
    try:
        model = report["model"]
        site = report["site_thresholds"]
        if model["sha256"] != model_sha256:
            raise SiteProfileError(
                "this validation was made with another model; refusing to adopt it",
                f"validated {model['id']} sha256 {model['sha256']}, in use {model_sha256}",
            )
        if not site:
            raise SiteProfileError(
                "this validation chose no site thresholds; nothing to adopt",
                str(report.get("site_thresholds_reason", "")),
            )
        profile = SiteProfile(
            model_id=model["id"],
            model_sha256=model["sha256"],
            created=report["created"],
            n_images=int(report["n_positive"]) + int(report["n_negative"]),
            n_positive=int(report["n_positive"]),
            n_negative=int(report["n_negative"]),
            thresholds=Thresholds(fracture=site["fracture"], doubt=site["doubt"]),
            roc_auc=float(report["roc_auc"]),
            source=str(report.get("folder", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SiteProfileError("this is not a validation report", repr(exc)) from exc
    return profile


def thresholds_in_use(card: ModelCard) -> tuple[Thresholds, str]:
    """The thresholds a model flags with here and their name: the site profile's, else the
    card's (a profile that cannot be read leaves the card's; the engine then refuses to load
    and says why)."""
    try:
        profile = load_profile(card.sha256)
    except SiteProfileError:
        return card.thresholds, CARD_THRESHOLDS
    if profile is None:
        return card.thresholds, CARD_THRESHOLDS
    return profile.thresholds, profile.label


def use_site_profile(engine: Engine) -> SiteProfile | None:
    """Make ``engine`` flag with the site profile stored for its model, if there is one.

    Raises
    ------
    SiteProfileError
        The stored profile is unreadable or belongs to other weights.
    """
    profile = load_profile(engine.card.sha256)
    if profile is not None:
        engine.use_thresholds(profile.thresholds, profile.label)
    return profile
