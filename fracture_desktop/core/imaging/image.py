"""The loaded image and the display transform that turns it into what a reader sees.

The pipeline follows DICOM PS3.3 C.11 (Grayscale Transformation): stored values -> Modality LUT
-> VOI LUT (window) -> Presentation LUT. :class:`LoadedImage` holds the result of the first step;
:func:`apply_window` performs the last two, returning bone-bright values in [0, 1].
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class VoiFunction(enum.StrEnum):
    """VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"


@dataclass(frozen=True)
class VoiWindow:
    """One window: Window Center (0028,1050) and Window Width (0028,1051).

    ``explanation`` is Window Center & Width Explanation (0028,1055), or a label we made
    ("auto", "full range") for windows that do not come from the file.
    """

    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR
    explanation: str = ""

    @property
    def lower(self) -> float:
        """Value mapped to black (before inversion)."""
        return self.center - self.width / 2.0

    @property
    def upper(self) -> float:
        """Value mapped to white (before inversion)."""
        return self.center + self.width / 2.0


@dataclass(frozen=True)
class VoiLut:
    """A VOI LUT Sequence item (0028,3010), PS3.3 C.11.2.1.1, applied to modality values.

    ``first_mapped`` is the input value of ``table[0]``; inputs below it map to the first
    entry and inputs past the end to the last. ``bits`` is the entry size of the LUT
    Descriptor: outputs span 0 .. 2**bits - 1.
    """

    first_mapped: int
    table: np.ndarray = field(repr=False)
    explanation: str = ""
    bits: int = 16


#: What a grey image is shown through: a window or a VOI LUT table (PS3.3 C.11.2).
Voi = VoiWindow | VoiLut


class SpacingSource(enum.StrEnum):
    """Where a pixel spacing came from, shown next to every measurement."""

    PIXEL_SPACING = "Pixel Spacing"
    IMAGER_CORRECTED = "Imager Pixel Spacing / magnification"
    IMAGER_AT_DETECTOR = "Imager Pixel Spacing (at detector)"
    NOMINAL_SCANNED = "Nominal Scanned Pixel Spacing"


@dataclass(frozen=True)
class PixelSpacing:
    """Physical size of one pixel in mm: ``row`` is the distance between rows (vertical)."""

    row: float
    column: float
    source: SpacingSource


@dataclass(frozen=True)
class LoadedImage:
    """One frame ready for display.

    Attributes
    ----------
    path : Path
        The file it came from.
    frame : int
        Zero-based frame index (0 for single-frame data).
    stored : np.ndarray
        Stored values as decoded (rows x columns, or rows x columns x 3 for colour).
    values : np.ndarray
        Grey images: values after the Modality LUT (PS3.3 C.11.1), float32, or ``stored``
        itself (integers) when that transform is the identity. Colour images: uint8 RGB,
        rows x columns x 3.
    windows : tuple of VoiWindow
        Windows offered by the file, in file order (may be empty).
    voi_luts : tuple of VoiLut
        VOI LUT Sequence items, in file order (may be empty).
    invert : bool
        True when low values must be shown bright: MONOCHROME1 (PS3.3 C.7.6.3.1.2) or
        Presentation LUT Shape INVERSE (PS3.3 C.11.6).
    spacing : PixelSpacing or None
        None means uncalibrated: measurements are in pixels.
    warnings : tuple of str
        Problems that did not stop loading (e.g. "JPEG data ends early").
    """

    path: Path
    frame: int
    stored: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    windows: tuple[VoiWindow, ...] = ()
    voi_luts: tuple[VoiLut, ...] = ()
    invert: bool = False
    spacing: PixelSpacing | None = None
    warnings: tuple[str, ...] = ()

    @property
    def is_colour(self) -> bool:
        return self.values.ndim == 3

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.values.shape[0]), int(self.values.shape[1])


def auto_window(values: np.ndarray, low: float = 0.5, high: float = 99.5) -> VoiWindow:
    """A window spanning the ``low``-``high`` percentiles, for images that bring none.

    Percentiles rather than min/max so that burned-in labels and collimator edges do not
    wash the anatomy out. Large images are subsampled: the percentiles barely move.
    """
    step = max(1, int(np.sqrt(values.size / 250_000)))
    sample = values[::step, ::step]
    lo, hi = np.percentile(sample, [low, high])
    if hi <= lo:
        hi = lo + 1.0
    return VoiWindow(center=float(lo + hi) / 2.0, width=float(hi - lo), explanation="auto")


def default_window(image: LoadedImage) -> VoiWindow:
    """The window a reader sees first: the file's first window, else an auto window."""
    if image.windows:
        return image.windows[0]
    return auto_window(image.values)


def default_voi(image: LoadedImage) -> VoiWindow | VoiLut:
    """The VOI transform shown first: file window, else file VOI LUT, else auto window.

    Windows come first because they are what readers adjust; a VOI LUT alone is the
    modality's tuned curve (PS3.3 C.11.2) and beats a percentile guess.
    """
    if not image.windows and image.voi_luts:
        return image.voi_luts[0]
    return default_window(image)


def apply_window(values: np.ndarray, window: VoiWindow, invert: bool = False) -> np.ndarray:
    """Map modality values to display values in [0, 1] (float32), bone bright.

    Implements the VOI LUT Functions of PS3.3 C.11.2.1.2 with an output range of [0, 1],
    then the Presentation LUT inversion when ``invert`` is set.

    Parameters
    ----------
    values : np.ndarray
        Values after the Modality LUT.
    window : VoiWindow
        Center, width and function.
    invert : bool
        Apply an INVERSE presentation (MONOCHROME1 or Presentation LUT Shape INVERSE).
    """
    c, w = window.center, window.width
    # float32 throughout, no float64 temporaries: this runs for every image shown,
    # thumbnailed or analysed, so it has to cost little more than reading the file.
    if window.function is VoiFunction.SIGMOID:
        slope = 4.0 / w if invert else -4.0 / w  # 1 - sigmoid(z) = sigmoid(-z)
        if not abs(slope) <= _FLOAT32_MAX:
            # Narrower than float32 resolves: the sigmoid is a step at the centre.
            bright = np.less_equal if invert else np.greater
            return bright(values, c).astype(np.float32)
        out = np.subtract(values, np.float32(c), dtype=np.float32)
        with np.errstate(over="ignore"):  # -> +-inf far from the centre: exp gives inf or 0
            out *= np.float32(slope)
            np.exp(out, out=out)
        out += 1.0
        np.reciprocal(out, out=out)
        return out
    if window.function is VoiFunction.LINEAR_EXACT:
        lower, upper = c - w / 2.0, c + w / 2.0
    else:
        # C.11.2.1.2.1: the discrete LINEAR function maps c - 0.5 -/+ (w - 1) / 2 to the
        # ends of the output range.
        lower, upper = c - 0.5 - (w - 1.0) / 2.0, c - 0.5 + (w - 1.0) / 2.0
    low, high = np.float32(lower), np.float32(upper)
    if high <= low:
        # Narrower than float32 resolves at this level: the window is a threshold.
        bright = np.less_equal if invert else np.greater
        return bright(values, lower).astype(np.float32)
    # Clip to the window, then shift and scale: three passes, with an exact subtraction
    # for integer-valued data. Inversion measures from the other end of the window.
    out = np.clip(values, low, high, dtype=np.float32)
    if invert:
        np.subtract(high, out, out=out)
    else:
        out -= low
    span = high - low
    scale = np.float32(1.0 / float(span))
    if span * scale > 1.0:  # keep the top of the window at 1, not one rounding above it
        scale = np.nextafter(scale, np.float32(0.0))
    out *= scale
    return out


def apply_voi_lut_table(values: np.ndarray, lut: VoiLut, invert: bool = False) -> np.ndarray:
    """Map modality values through a VOI LUT (PS3.3 C.11.2.1.1) to [0, 1] (float32).

    Inputs outside the table take its first or last entry, as the standard prescribes.
    """
    # intp before subtracting: unsigned stored values would wrap below the first entry.
    index = np.clip(np.asarray(values).astype(np.intp) - lut.first_mapped, 0, lut.table.size - 1)
    out = lut.table[index].astype(np.float32)
    out *= np.float32(1.0 / float(2**lut.bits - 1))
    if invert:
        np.subtract(1.0, out, out=out)
    return out


def display_grey(image: LoadedImage, window: VoiWindow | VoiLut | None = None) -> np.ndarray:
    """Bone-bright grey display values in [0, 1] for any image (colour goes to luminance).

    ``window`` defaults to :func:`default_voi`. Colour images ignore it: they are shown
    as stored, converted to luminance (ITU-R BT.601 weights) when a grey picture is needed.
    """
    if image.is_colour:
        rgb = image.values.astype(np.float32) / 255.0
        return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    voi = window or default_voi(image)
    if isinstance(voi, VoiLut):
        return apply_voi_lut_table(image.values, voi, image.invert)
    return apply_window(image.values, voi, image.invert)
