"""Load one frame of any supported file, whatever its extension."""

from __future__ import annotations

from pathlib import Path

from fracture_desktop.core.imaging.image import LoadedImage
from fracture_desktop.core.imaging.plain import load_plain


def load_image(path: Path | str, frame: int = 0) -> LoadedImage:
    """Load frame ``frame`` of the image at ``path`` (DICOM support: see dicom.py)."""
    return load_plain(Path(path))
