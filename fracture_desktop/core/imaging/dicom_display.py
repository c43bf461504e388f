"""What a DICOM header says about showing its pixels: LUTs, windows, inversion, calibration.

The pipeline follows PS3.3 C.11: stored values -> Modality LUT (C.11.1) -> VOI LUT or window
(C.11.2) -> Presentation LUT (C.11.6); calibration follows PS3.3 10.7.1 (Pixel Spacing,
Imager Pixel Spacing and magnification). Multi-frame files take each frame's functional
groups over the shared ones (C.7.6.16).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

from fracture_desktop.core.imaging.image import (
    PixelSpacing,
    SpacingSource,
    VoiFunction,
    VoiLut,
    VoiWindow,
)

# Valid spacings lie between these (mm); outside them a value is a placeholder or a typo.
MIN_SPACING_MM = 0.005
MAX_SPACING_MM = 10.0


#: Windows are applied in float32; centres and widths beyond its range cannot be.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def modality_values(stored: np.ndarray, ds: Dataset, notes: list[str]) -> np.ndarray:
    """Apply the Modality LUT (PS3.3 C.11.1): Rescale Slope/Intercept or the LUT Sequence.

    Returns ``stored`` itself when the transform is the identity (integer data without
    rescale, the usual radiograph): no copy of every pixel. Otherwise float32, with the
    rescale done in place: pydicom's version works in float64, which doubles the memory
    traffic for no visible gain. A damaged transform is skipped with a note in ``notes``:
    stored values still show the anatomy.
    """
    if "ModalityLUTSequence" in ds:
        try:
            return apply_modality_lut(stored, ds).astype(np.float32)
        except Exception as exc:  # a damaged table raises anything from IndexError up
            notes.append(f"Modality LUT is damaged and was ignored ({exc})")
    slope, intercept = rescale(ds, notes)
    if slope == 1.0 and intercept == 0.0 and np.issubdtype(stored.dtype, np.integer):
        return stored
    values = stored.astype(np.float32)
    if slope != 1.0:
        values *= slope
    if intercept != 0.0:
        values += intercept
    return values


def rescale(ds: Dataset, notes: list[str]) -> tuple[float, float]:
    """Rescale Slope and Intercept (PS3.3 C.11.1.1.2): 1 and 0 when absent, and when they
    are not numbers (with a note in ``notes``): stored values still show the anatomy."""
    try:
        return (
            float(ds.get("RescaleSlope", 1.0) or 1.0),
            float(ds.get("RescaleIntercept", 0.0) or 0.0),
        )
    except (TypeError, ValueError):
        notes.append("Rescale Slope/Intercept are not numbers and were ignored")
        return 1.0, 0.0


def rescale_attributes(ds: Dataset, frame: int) -> Dataset:
    """Where ``frame``'s Rescale Slope/Intercept live (Pixel Value Transformation macro)."""
    return frame_attributes(ds, frame, "RescaleSlope", "PixelValueTransformationSequence")


def window_attributes(ds: Dataset, frame: int) -> Dataset:
    """Where ``frame``'s Window Center/Width live (Frame VOI LUT macro)."""
    return frame_attributes(ds, frame, "WindowCenter", "FrameVOILUTSequence")


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def voi_windows(ds: Dataset) -> tuple[VoiWindow, ...]:
    """Every Window Center/Width pair of the file (PS3.3 C.11.2.1.2), in file order.

    Window Center & Width Explanation (0028,1055) labels each pair; VOI LUT Function
    (0028,1056) applies to all of them. Pairs with a non-positive width, or values that are
    not finite in float32 (a sigmoid's slope included), are dropped.
    """
    centers = _as_list(ds.get("WindowCenter"))
    widths = _as_list(ds.get("WindowWidth"))
    explanations = _as_list(ds.get("WindowCenterWidthExplanation"))
    try:
        function = VoiFunction(str(ds.get("VOILUTFunction", "LINEAR")).strip().upper())
    except ValueError:
        function = VoiFunction.LINEAR
    windows = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        try:
            # DS values, or whatever a damaged file holds: the except below sorts them out.
            center, width = float(c), float(w)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        # Windows are applied in float32: values beyond its range (or NaN) would turn every
        # pixel into NaN, not a picture.
        if not (0 < width <= _FLOAT32_MAX and abs(center) <= _FLOAT32_MAX):
            continue
        if function is VoiFunction.SIGMOID and 4.0 / width > _FLOAT32_MAX:
            continue  # C.11.2.1.3.1's slope 4 / width: infinite in float32, NaN at the centre
        label = str(explanations[i]) if i < len(explanations) else ""
        windows.append(VoiWindow(center, width, function, label or f"file window {i + 1}"))
    return tuple(windows)


def voi_luts(ds: Dataset) -> tuple[VoiLut, ...]:
    """The VOI LUT Sequence items (PS3.3 C.11.2.1.1), in file order.

    LUT Descriptor: number of entries (0 means 65536), first mapped value, bits per entry.
    """
    luts: list[VoiLut] = []
    for item in ds.get("VOILUTSequence", ()):
        try:
            count, first, bits = (int(v) for v in item.LUTDescriptor)
            raw = item.LUTData
        except (AttributeError, TypeError, ValueError):
            continue
        count = count or 65536
        if isinstance(raw, bytes):
            dtype = "<u2" if bits > 8 or len(raw) >= 2 * count else "u1"
            table = np.frombuffer(raw, dtype=dtype)
        else:
            table = np.asarray(_as_list(raw), dtype=np.uint16)
        table = table[:count]
        if table.size == 0:
            continue
        if table.min() == table.max():
            # A constant table shows one grey and nothing of the image: no VOI at all.
            warnings.warn("a VOI LUT with one value for every input was ignored", stacklevel=2)
            continue
        # Some writers declare fewer bits than the entries use; never let values exceed 1.
        bits = max(bits, int(table.max()).bit_length())
        explanation = str(item.get("LUTExplanation", "")) or f"file LUT {len(luts) + 1}"
        luts.append(VoiLut(first, table, explanation, bits))
    return tuple(luts)


def needs_inversion(ds: Dataset) -> bool:
    """True when low values are to be shown bright.

    MONOCHROME1 (PS3.3 C.7.6.3.1.2) means "minimum is white". Presentation LUT Shape
    INVERSE (C.11.6.1) also inverts; DX objects state INVERSE *because* they are MONOCHROME1
    (C.8.11.7: "INVERSE shall be used if Photometric Interpretation is MONOCHROME1"), so
    the two describe one inversion, not two that cancel.
    """
    mono1 = ds.get("PhotometricInterpretation") == "MONOCHROME1"
    return mono1 or str(ds.get("PresentationLUTShape", "")).upper() == "INVERSE"


def _two_floats(value: object) -> tuple[float, float] | None:
    items = _as_list(value)
    if len(items) != 2:
        return None
    try:
        row, col = float(items[0]), float(items[1])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not all(MIN_SPACING_MM <= v <= MAX_SPACING_MM for v in (row, col)):
        return None
    return row, col


def functional_group(ds: Dataset, frame: int, keyword: str) -> Dataset | None:
    """The item of functional group macro ``keyword`` that applies to ``frame``.

    Enhanced multi-frame objects (PS3.3 C.7.6.16) keep rescale, windows and spacing in
    functional groups: the frame's own Per-Frame Functional Groups item wins over the
    Shared Functional Groups item. None when neither holds the macro.
    """
    for groups, index in (
        ("PerFrameFunctionalGroupsSequence", frame),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        try:
            return ds.get(groups)[index].get(keyword)[0]
        except (AttributeError, IndexError, KeyError, TypeError):
            continue
    return None


def frame_attributes(ds: Dataset, frame: int, keyword: str, macro: str) -> Dataset:
    """Where ``keyword`` for ``frame`` lives: the dataset itself when it has the attribute
    (classic objects), else the functional group item ``macro`` when there is one."""
    if keyword in ds:
        return ds
    return functional_group(ds, frame, macro) or ds


def pixel_spacing(ds: Dataset, frame: int = 0) -> PixelSpacing | None:
    """Physical pixel size and where it came from, or None when uncalibrated.

    Order (PS3.3 10.7.1.1-10.7.1.3):

    1. Pixel Spacing (0028,0030), in the patient plane as the modality states it
       (for enhanced objects, in the Pixel Measures functional group of ``frame``);
    2. Imager Pixel Spacing (0018,1164) divided by the Estimated Radiographic
       Magnification Factor (0018,1114) when present, else at the detector;
    3. Nominal Scanned Pixel Spacing (0018,2010) of digitised film.

    Zero, negative, non-numeric and absurd values (outside 0.005-10 mm) are ignored,
    since a wrong scale is worse than none: WG04 RG1 says ``0.000\\0.000``.
    """
    measures = frame_attributes(ds, frame, "PixelSpacing", "PixelMeasuresSequence")
    spacing = _two_floats(measures.get("PixelSpacing"))
    if spacing:
        return PixelSpacing(*spacing, SpacingSource.PIXEL_SPACING)
    imager = _two_floats(ds.get("ImagerPixelSpacing"))
    if imager:
        try:
            factor = float(ds.get("EstimatedRadiographicMagnificationFactor") or 0.0)
        except (TypeError, ValueError):
            factor = 0.0
        if factor > 0 and (corrected := _two_floats([v / factor for v in imager])):
            return PixelSpacing(*corrected, SpacingSource.IMAGER_CORRECTED)
        return PixelSpacing(*imager, SpacingSource.IMAGER_AT_DETECTOR)
    nominal = _two_floats(ds.get("NominalScannedPixelSpacing"))
    if nominal:
        return PixelSpacing(*nominal, SpacingSource.NOMINAL_SCANNED)
    return None
