"""Window presets and mouse window/level, in modality values (PS3.3 C.11.2)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fracture_desktop.core.imaging.image import LoadedImage, Voi, VoiLut, VoiWindow, auto_window

#: Hounsfield windows; only meaningful where values are HU (CT).
CT_BONE = VoiWindow(center=400.0, width=1800.0, explanation="bone")
CT_SOFT_TISSUE = VoiWindow(center=40.0, width=400.0, explanation="soft tissue")
CT_LUNG = VoiWindow(center=-600.0, width=1500.0, explanation="lung")
#: Mouse drag steps through the image's value range in this many pixels.
DRAG_STEPS = 512


def value_range(image: LoadedImage) -> tuple[float, float]:
    """Lowest and highest modality value (sampled on big images: a preset, not a statistic)."""
    step = max(1, int(np.sqrt(image.values.size / 1_000_000)))
    sample = image.values[::step, ::step]
    return float(sample.min()), float(sample.max())


def voi_label(voi: Voi, index: int = 0) -> str:
    if voi.explanation:
        return voi.explanation
    return f"file VOI LUT {index + 1}" if isinstance(voi, VoiLut) else "window"


def presets(image: LoadedImage, modality: str) -> list[Voi]:
    """Presets in number-key order: the file's windows and VOI LUTs, auto, bone, soft
    tissue, lung, full range.

    Radiographs have no fixed value scale, so their bone, soft-tissue and lung presets are
    estimated from the image: bone takes the bright (bone) half of the histogram narrowly,
    soft tissue the darker part, lung the darkest part widely; which end is bright follows
    the photometric inversion.
    """
    if image.is_colour:
        return []
    found: list[Voi] = [*image.windows, *image.voi_luts]
    values = image.values
    found.append(auto_window(values))
    if modality == "CT":
        found += [CT_BONE, CT_SOFT_TISSUE, CT_LUNG]
    else:
        bone = auto_window(values, 0.2, 60.0) if image.invert else auto_window(values, 40.0, 99.8)
        soft = auto_window(values, 30.0, 99.0) if image.invert else auto_window(values, 1.0, 70.0)
        lung = auto_window(values, 50.0, 99.9) if image.invert else auto_window(values, 0.1, 50.0)
        found += [
            replace(bone, explanation="bone (estimated)"),
            replace(soft, explanation="soft tissue (estimated)"),
            replace(lung, explanation="lung (estimated)"),
        ]
    low, high = value_range(image)
    found.append(
        VoiWindow(center=(low + high) / 2.0, width=max(high - low, 1.0), explanation="full range")
    )
    return found


def dragged_window(
    window: VoiWindow, dx: float, dy: float, span: float, inverted: bool = False
) -> VoiWindow:
    """The window after a mouse drag of ``dx``, ``dy`` screen pixels.

    Right widens, left narrows; down darkens the image on screen, up brightens it, whatever
    the photometric interpretation: without inversion (MONOCHROME2) darker means a higher
    level, while on an ``inverted`` display (MONOCHROME1, PS3.3 C.7.6.3.1.2, or the reader's
    invert) the grey scale runs the other way, so darker means a lower level. One pixel moves
    1/512 of the image's value ``span``, so every bit depth feels the same.
    """
    step = max(span / DRAG_STEPS, 1e-6)
    width = max(window.width + dx * step, step)
    level_step = -dy * step if inverted else dy * step
    return VoiWindow(window.center + level_step, width, window.function, "manual")
