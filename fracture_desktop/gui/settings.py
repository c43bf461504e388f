"""The viewer's persisted preferences (QSettings), read and written in one place."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from fracture_desktop.core.display import DisplayState
from fracture_desktop.core.inference.devices import DEVICES

ORGANISATION = "FractureDesktop"
APPLICATION = "Fracture Desktop"
MAX_RECENT = 8


class ViewerSettings:
    """Typed access to the keys the viewer keeps between sessions.

    Parameters
    ----------
    settings : QSettings, optional
        Defaults to the user's INI settings for this application; tests pass one that lives in
        a temporary folder.
    """

    def __init__(self, settings: QSettings | None = None) -> None:
        self._s = settings or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
        )

    def _bool(self, key: str, default: bool) -> bool:
        value = self._s.value(key, default)
        # INI files give strings back: "true" / "false".
        return value if isinstance(value, bool) else str(value).lower() == "true"

    def _paths(self, key: str) -> list[Path]:
        value = self._s.value(key, [])
        # INI files give a one-item list back as a plain string.
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(v) for v in items if v]

    @property
    def recent(self) -> list[Path]:
        return self._paths("recent")

    def add_recent(self, folder: Path) -> None:
        folders = [folder, *(p for p in self.recent if p != folder)][:MAX_RECENT]
        self._s.setValue("recent", [str(p) for p in folders])

    @property
    def device(self) -> str:
        value = str(self._s.value("device", "auto"))
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._s.setValue("device", value)

    @property
    def wheel_steps_images(self) -> bool:
        """The mouse wheel steps through images (Ctrl+wheel zooms), as in RadiAnt and
        Weasis; False: the wheel zooms and Ctrl+wheel steps."""
        return self._bool("view/wheel_steps_images", True)

    @wheel_steps_images.setter
    def wheel_steps_images(self, value: bool) -> None:
        self._s.setValue("view/wheel_steps_images", bool(value))

    @property
    def model_dir(self) -> Path | None:
        """The model folder the reader chose last (None: the shipped default)."""
        value = self._s.value("model/folder", "")
        return Path(value) if value else None

    @model_dir.setter
    def model_dir(self, folder: Path | None) -> None:
        self._s.setValue("model/folder", str(folder) if folder else "")

    @property
    def user_model_dirs(self) -> list[Path]:
        """Model folders the reader added beside the shipped ones."""
        return self._paths("model/added")

    def add_user_model_dir(self, folder: Path) -> None:
        folders = [*(p for p in self.user_model_dirs if p != folder), folder]
        self._s.setValue("model/added", [str(p) for p in folders])

    def display(self) -> DisplayState:
        """The display choices kept between sessions (overlays, heatmap, boxes)."""
        try:
            opacity = max(0, min(100, int(self._s.value("heatmap/opacity", 45))))
        except (TypeError, ValueError):
            opacity = 45
        return DisplayState(
            overlays=self._bool("overlays", True),
            heatmap_visible=self._bool("heatmap/visible", False),
            heatmap_opacity=opacity,
            boxes_visible=self._bool("boxes/visible", True),
        )

    def save_display(self, display: DisplayState) -> None:
        """Keep ``display``'s overlay, heatmap and box choices for the next session."""
        self._s.setValue("overlays", display.overlays)
        self._s.setValue("heatmap/visible", display.heatmap_visible)
        self._s.setValue("heatmap/opacity", int(display.heatmap_opacity))  # percent, 0-100
        self._s.setValue("boxes/visible", display.boxes_visible)

    @property
    def report_folder(self) -> Path:
        """Where the export dialog opens: the folder last exported to, else the home folder.

        Never the study folder by default, so reports are not written among the images.
        """
        value = self._s.value("export/folder", "")
        return Path(value) if value and Path(value).is_dir() else Path.home()

    @report_folder.setter
    def report_folder(self, folder: Path) -> None:
        self._s.setValue("export/folder", str(folder))

    @property
    def reader_name(self) -> str:
        """The reader's name, recorded with each decision and printed on reports ("": unset)."""
        return str(self._s.value("reader/name", "")).strip()

    @reader_name.setter
    def reader_name(self, name: str) -> None:
        self._s.setValue("reader/name", name.strip())

    def geometry(self) -> tuple[QByteArray | None, QByteArray | None]:
        """Saved window geometry and dock state, or None."""
        return self._s.value("window/geometry"), self._s.value("window/state")

    def save_geometry(self, geometry: QByteArray, state: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)

    def sync(self) -> None:
        self._s.sync()
