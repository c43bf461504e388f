"""Every real DICOM file in ../shared/dicom: loads correctly or fails with a typed reason."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.imaging.dicom_display import (
    MAX_SPACING_MM,
    MIN_SPACING_MM,
    pixel_spacing,
)
from fracture_desktop.core.imaging.image import (
    SpacingSource,
    VoiFunction,
    VoiWindow,
    apply_window,
    default_window,
    display_grey,
)
from fracture_desktop.core.imaging.loader import load_image

MANIFEST = Path(__file__).resolve().parents[3].parent / "shared" / "dicom" / "MANIFEST.tsv"


def manifest_rows() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return []
    with open(MANIFEST, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ROWS = manifest_rows()
ALL = [pytest.param(r, id=r["path"]) for r in ROWS]
# Files pydicom's own Modality + VOI pipeline processes: the reference for our values.
GREY = [
    pytest.param(r, id=r["path"])
    for r in ROWS
    if r["photometric"].startswith("MONOCHROME") and r["modality+voi_lut_pipeline"] == "ok"
]
SPACED = [
    pytest.param(r, id=r["path"]) for r in ROWS if r["PixelSpacing"] or r["ImagerPixelSpacing"]
]


@pytest.mark.parametrize("row", ALL)
def test_every_file_loads_or_fails_with_a_reason(dicom_dir: Path, row: dict[str, str]) -> None:
    path = dicom_dir / row["path"]
    try:
        image = load_image(path)
    except ImageLoadError as exc:
        assert exc.reason.strip(), "a failure must say why"
        assert exc.path == path
        # What pydicom with the plugins decodes, we must decode too.
        assert row["decode_with_plugins"] != "ok", f"{exc.reason}: {exc.details}"
        return
    rows, cols = (int(v) for v in row["rows_x_cols"].split("x"))
    assert image.shape == (rows, cols)
    shown = display_grey(image)
    assert shown.shape == (rows, cols)
    assert np.isfinite(shown).all() and shown.min() >= 0.0 and shown.max() <= 1.0
    frames = int(row["frames"] or 1)
    if frames > 1:
        last = load_image(path, frames - 1)
        assert last.frame == frames - 1 and last.shape == (rows, cols)


def _normalised_reference(modality: np.ndarray, ds: pydicom.Dataset, index: int) -> np.ndarray:
    """pydicom's VOI output mapped onto [0, 1] using pydicom's own output range."""
    if "VOILUTSequence" in ds and "WindowCenter" not in ds:
        out = apply_voi_lut(modality, ds, index=index, prefer_lut=True)
        bits = int(ds.VOILUTSequence[index].LUTDescriptor[2])
        return out / (2**bits - 1)
    out = apply_voi_lut(modality, ds, index=index, prefer_lut=False)
    # The extremes of any input show the output range pydicom chose (PS3.3 C.11.2.1.2).
    lo, hi = apply_voi_lut(np.array([-1e12, 1e12]), ds, index=index, prefer_lut=False)
    return (out - lo) / (hi - lo)


def _flattened(ds: pydicom.Dataset) -> pydicom.Dataset:
    """``ds`` with frame 1's rescale and window functional groups (PS3.3 C.7.6.16) copied to
    the top level, where pydicom's ``apply_modality_lut`` / ``apply_voi_lut`` look for them.

    Shared groups first, then the frame's own (which win); top-level attributes stay.
    """
    flat = ds
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for macro in ("PixelValueTransformationSequence", "FrameVOILUTSequence"):
            if groups in ds and macro in ds[groups].value[0]:
                flat = copy.deepcopy(ds) if flat is ds else flat
                for element in ds[groups].value[0][macro].value[0]:
                    if element.tag not in ds:
                        flat[element.tag] = element
    return flat


@pytest.mark.parametrize("row", GREY)
# Only the reference reads (plain pydicom) may warn about odd encodings; ours record them.
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_values_match_pydicom_reference(dicom_dir: Path, row: dict[str, str]) -> None:
    path = dicom_dir / row["path"]
    image = load_image(path)
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array
    if int(ds.get("NumberOfFrames") or 1) > 1:
        stored = stored[0]
    ds = _flattened(ds)
    reference = apply_modality_lut(stored, ds)
    np.testing.assert_allclose(image.values, reference, rtol=1e-6, atol=1e-3)
    if not image.windows and not image.voi_luts:
        return  # pydicom has no VOI to compare; the auto window is ours alone
    for index in range(max(len(image.windows), len(image.voi_luts))):
        expected = _normalised_reference(reference, ds, index)
        if image.invert:
            expected = 1.0 - expected  # bone bright: MONOCHROME1 / INVERSE
        voi = image.windows[index] if image.windows else image.voi_luts[index]
        shown = display_grey(image, voi)
        np.testing.assert_allclose(shown, expected, atol=2e-3)


@pytest.mark.parametrize("function", list(VoiFunction))
@pytest.mark.parametrize(("center", "width"), [(512.0, 400.0), (40.0, 2.0), (100.5, 1.0)])
@pytest.mark.parametrize("invert", [False, True])
def test_voi_functions_match_pydicom(
    function: VoiFunction, center: float, width: float, invert: bool
) -> None:
    values = np.arange(-1024, 2048, dtype=np.float32)  # integer-valued, like most modalities
    ds = pydicom.Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsStored, ds.PixelRepresentation = 16, 1
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = center, width, function.value
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # pydicom's own maths
        expected = _normalised_reference(values.astype(np.float64), ds, 0)
    if invert:
        expected = 1.0 - expected
    shown = apply_window(values, VoiWindow(center, width, function), invert)
    assert shown.dtype == np.float32
    assert shown.min() >= 0.0 and shown.max() <= 1.0
    np.testing.assert_allclose(shown, expected, atol=1e-6)


def test_enhanced_frames_take_their_own_functional_groups(dicom_dir: Path, tmp_path: Path) -> None:
    """PS3.3 C.7.6.16: a frame's Per-Frame Functional Groups item wins over the Shared one."""
    ds = pydicom.dcmread(dicom_dir / "pydicom-data_1.0.0/eCT_Supplemental.dcm")
    shared = ds.SharedFunctionalGroupsSequence[0]
    rescale = shared.PixelValueTransformationSequence[0]
    own = pydicom.Dataset()
    own.RescaleSlope, own.RescaleIntercept, own.RescaleType = 2, -500, "HU"
    own_window = pydicom.Dataset()
    own_window.WindowCenter, own_window.WindowWidth = 300, 1500
    own_measures = pydicom.Dataset()
    own_measures.PixelSpacing = [0.25, 0.5]
    second = ds.PerFrameFunctionalGroupsSequence[1]
    second.PixelValueTransformationSequence = pydicom.Sequence([own])
    second.FrameVOILUTSequence = pydicom.Sequence([own_window])
    second.PixelMeasuresSequence = pydicom.Sequence([own_measures])
    path = tmp_path / "enhanced.dcm"
    ds.save_as(path)
    stored = ds.pixel_array

    first, other = load_image(path, 0), load_image(path, 1)
    slope, intercept = float(rescale.RescaleSlope), float(rescale.RescaleIntercept)
    np.testing.assert_allclose(first.values, stored[0] * slope + intercept, rtol=1e-6)
    np.testing.assert_allclose(other.values, stored[1] * 2.0 - 500.0, rtol=1e-6)
    window = shared.FrameVOILUTSequence[0]
    assert (first.windows[0].center, first.windows[0].width) == (
        float(_first(window.WindowCenter)),
        float(_first(window.WindowWidth)),
    )
    assert (other.windows[0].center, other.windows[0].width) == (300.0, 1500.0)
    assert first.spacing is not None and other.spacing is not None
    shared_spacing = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
    assert [first.spacing.row, first.spacing.column] == pytest.approx(shared_spacing)
    assert (other.spacing.row, other.spacing.column) == (0.25, 0.5)


def _first(value: object) -> object:
    """The first of a multi-valued element, or the value itself."""
    return value[0] if isinstance(value, pydicom.multival.MultiValue) else value


def test_monochrome1_comes_out_bone_bright(dicom_dir: Path) -> None:
    mono1 = [
        r for r in ROWS if r["photometric"] == "MONOCHROME1" and r["decode_with_plugins"] == "ok"
    ]
    assert mono1, "the shared set has MONOCHROME1 radiographs"
    for row in mono1:
        image = load_image(dicom_dir / row["path"])
        assert image.invert, row["path"]
        shown = display_grey(image)
        as_stored = apply_window(image.values, default_window(image))
        # MONOCHROME1 stores bone low: shown without inversion the picture is its negative.
        assert shown.mean() == pytest.approx(1.0 - as_stored.mean(), abs=1e-4), row["path"]


@pytest.mark.parametrize("row", SPACED)
def test_spacing_follows_manifest(dicom_dir: Path, row: dict[str, str]) -> None:
    ds = pydicom.dcmread(dicom_dir / row["path"], stop_before_pixels=True)
    spacing = pixel_spacing(ds)
    pixel = [float(v) for v in row["PixelSpacing"].split("\\")] if row["PixelSpacing"] else []
    imager = (
        [float(v) for v in row["ImagerPixelSpacing"].split("\\")]
        if row["ImagerPixelSpacing"]
        else []
    )
    if pixel and all(MIN_SPACING_MM <= v <= MAX_SPACING_MM for v in pixel):
        assert spacing is not None and spacing.source is SpacingSource.PIXEL_SPACING
        assert (spacing.row, spacing.column) == pytest.approx(pixel)
    elif imager and "EstimatedRadiographicMagnificationFactor" not in ds:
        assert spacing is not None and spacing.source is SpacingSource.IMAGER_AT_DETECTOR
        assert (spacing.row, spacing.column) == pytest.approx(imager)
    elif not imager:
        assert spacing is None, "0.000\\0.000 (or 33 mm) must mean uncalibrated"
