"""How an image is shown, written once for the viewer and the PDF report.

:class:`DisplayState` is the reader's display choices (window, inversion, orientation,
overlays); :func:`window_label` words a window the same way in the viewer's corner text and
under a report's key image; :func:`heat_colours` is the heatmap colour scale both draw
with, :data:`BOX_COLOUR` the colour of the localiser's boxes; :func:`pixel_readout` is the
viewer's cursor text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fracture_desktop.core.imaging.image import LoadedImage, Voi, VoiLut

#: Percent opacity of the heatmap overlay until the reader picks another.
DEFAULT_HEATMAP_OPACITY = 45
#: RGB of the localiser's box outlines: cyan stands out on grey bone and on the heatmap's
#: warm colours alike.
BOX_COLOUR = (0, 229, 255)
# Anchors of matplotlib's "inferno" at 0, 1/4, ... 1: perceptually uniform and readable in
# grey print.
_RAMP = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32
)


@dataclass(frozen=True)
class DisplayState:
    """The reader's display choices for the image on show.

    Attributes
    ----------
    voi : VoiWindow or VoiLut or None
        The window or VOI LUT the grey image is shown through (PS3.3 C.11.2); None for colour
        images and while nothing is shown.
    invert : bool
        The reader's inversion, applied on top of the file's MONOCHROME1 inversion.
    rotation : int
        Clockwise degrees, a multiple of 90.
    flipped : bool
        Mirrored left-right (after the rotation).
    overlays : bool
        Corner texts shown.
    heatmap_visible : bool
        The model's Grad-CAM heatmap drawn over the image (a research option).
    boxes_visible : bool
        The localiser's boxes drawn over the image (on flagged images only).
    heatmap_opacity : int
        Percent, 0-100.
    """

    # Compared by identity (see ReadingSession.update_display): a VOI LUT holds an array.
    voi: Voi | None = field(default=None, compare=False)
    invert: bool = False
    rotation: int = 0
    flipped: bool = False
    overlays: bool = True
    heatmap_visible: bool = False
    heatmap_opacity: int = DEFAULT_HEATMAP_OPACITY
    boxes_visible: bool = True


def window_label(voi: Voi | None, explanation: bool = True) -> str:
    """A short description of a display transform.

    E.g. ``"W 400 L 40 (BONE)"``; ``"colour"`` for colour images, which have no window.
    With ``explanation`` false the file's free text is left out (``"W 400 L 40"``): Window
    Center & Width Explanation (0028,1055) and LUT Explanation (0028,3003) are free text a
    site may fill with anything, names included.
    """
    if voi is None:
        return "colour"
    if isinstance(voi, VoiLut):
        return f"VOI LUT {voi.explanation if explanation else ''}".strip()
    values = f"W {voi.width:.0f} L {voi.center:.0f}"
    return f"{values} ({voi.explanation or 'window'})" if explanation else values


def orientation_label(rotation: int, flipped: bool) -> str:
    """How the view shows the image against how it was stored, "" when as stored: a turned
    or mirrored radiograph puts the patient's left where the reader expects the right.

    The view draws ``rotation`` degrees clockwise after a left-right mirror (``flipped``);
    a half turn after a mirror is a top-bottom flip.
    """
    rotation %= 360
    if flipped and rotation == 180:
        return "Flipped top-bottom"
    turned = {
        90: "turned 90\u00b0 clockwise",
        180: "turned 180\u00b0",
        270: "turned 90\u00b0 counter-clockwise",
    }.get(rotation, "")
    parts = (["mirrored left-right"] if flipped else []) + ([turned] if turned else [])
    text = ", then ".join(parts)
    return text[:1].upper() + text[1:]


def _heat_lut() -> np.ndarray:
    """256 RGB colours along :data:`_RAMP`, so colouring is one table lookup per pixel."""
    position = np.linspace(0.0, len(_RAMP) - 1, 256, dtype=np.float32)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(_RAMP) - 1)
    t = (position - low)[:, None]
    return np.asarray(_RAMP[low] * (1.0 - t) + _RAMP[high] * t, dtype=np.float32)


#: The heatmap colour scale: 256 RGB colours (0..255, float32) from cold to hot.
HEAT_LUT = _heat_lut()


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """RGB float32 colours (0..255) for heat values in [0, 1]."""
    index = (np.clip(heat, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.asarray(HEAT_LUT[index], dtype=np.float32)


def pixel_readout(image: LoadedImage, col: int, row: int) -> str:
    """What the viewer's status bar says about pixel ``(col, row)`` of ``image``: position,
    modality value (and the stored value when a Modality LUT changed it; RGB for colour), and
    the position in mm with its source. Short, so that it fits a laptop's status bar."""
    parts = [f"x {col} y {row}"]
    if image.is_colour:
        parts.append("RGB " + " ".join(str(int(v)) for v in image.values[row, col]))
    else:
        stored, value = image.stored[row, col], float(image.values[row, col])
        if np.ndim(stored) == 0 and float(stored) != value:
            parts.append(f"stored {stored}")
        parts.append(f"value {value:g}")
    if image.spacing is not None:
        x_mm, y_mm = col * image.spacing.column, row * image.spacing.row
        parts.append(f"{x_mm:.1f}, {y_mm:.1f} mm ({image.spacing.source})")
    else:
        parts.append("uncalibrated")
    return " \u00b7 ".join(parts)
