"""Damaged and disguised files, made in tmp_path: each gets a clear outcome, never a crash."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from fracture_desktop.core.errors import CorruptImageError, NotAnImageError
from fracture_desktop.core.imaging.dicom_display import PixelSpacing, pixel_spacing
from fracture_desktop.core.imaging.image import SpacingSource
from fracture_desktop.core.imaging.loader import load_image

MR = "pydicom_3.0.2/MR_small.dcm"
MR_J2K = "pydicom_3.0.2/MR_small_jp2klossless.dcm"


def copy_cut(src: Path, dst: Path, keep: int) -> Path:
    """Copy ``src`` without its last ``keep`` < 0 bytes (or its first ``keep`` > 0 bytes)."""
    data = src.read_bytes()
    dst.write_bytes(data[:keep] if keep < 0 else data[keep:])
    return dst


def test_truncated_native_file(dicom_dir: Path, tmp_path: Path) -> None:
    path = copy_cut(dicom_dir / MR, tmp_path / "cut.dcm", -500)
    with pytest.raises(CorruptImageError, match="pixel data ends early"):
        load_image(path)


def test_truncated_jpeg2000_file(dicom_dir: Path, tmp_path: Path) -> None:
    path = copy_cut(dicom_dir / MR_J2K, tmp_path / "cut_j2k", -1000)
    with pytest.raises(CorruptImageError, match="JPEG 2000 data ends early"):
        load_image(path)


def test_stripped_preamble_still_loads(dicom_dir: Path, tmp_path: Path) -> None:
    original = load_image(dicom_dir / MR)
    path = copy_cut(dicom_dir / MR, tmp_path / "no_preamble.dcm", 132)
    stripped = load_image(path)
    np.testing.assert_array_equal(stripped.values, original.values)
    assert stripped.windows == original.windows


def test_huge_declared_size_is_refused_without_allocating(dicom_dir: Path, tmp_path: Path) -> None:
    ds = pydicom.dcmread(dicom_dir / MR)
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 1000
    path = tmp_path / "liar.dcm"
    ds.save_as(path)
    with pytest.raises(CorruptImageError, match=r"implausible|ends early|too large"):
        load_image(path)


def test_png_named_dcm_is_read_by_content(tmp_path: Path) -> None:
    path = tmp_path / "picture.dcm"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(path, format="PNG")
    image = load_image(path)
    assert image.shape == (8, 8)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.dcm", b"", "empty file"),
        ("notes.dcm", b"just some text\n" * 20, "not a DICOM file"),
        ("notes.txt", b"just some text\n" * 20, "not an image"),
    ],
)
def test_non_images(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NotAnImageError) as info:
        load_image(path)
    assert info.value.reason == reason


def test_gzip_named_dcm(dicom_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "zipped.dcm"
    path.write_bytes(gzip.compress((dicom_dir / MR).read_bytes()))
    with pytest.raises(NotAnImageError, match="not a DICOM file") as info:
        load_image(path)
    assert "gzip" in info.value.details


def strict_decode_ok(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
    except OSError:
        return False
    return True


def test_truncated_fracatlas_jpegs_open_with_a_warning(shared_dir: Path, tmp_path: Path) -> None:
    folder = shared_dir / "datasets" / "fracatlas" / "images" / "Non_fractured"
    # The release's truncated files lie in IMG0004028..IMG0004347 (see its README); a
    # strict decode tells them from their intact neighbours.
    span = [p for p in sorted(folder.glob("IMG*.jpg")) if 4028 <= int(p.stem[3:]) <= 4347]
    if not span:
        pytest.skip("FracAtlas images are not available")
    cut = [p for p in span[:12] if not strict_decode_ok(p)][:3]
    assert cut, "the known truncated JPEGs are in the share"
    for path in cut:
        image = load_image(path)
        assert image.warnings and "ends early" in image.warnings[0]
        assert image.values.ndim == 2 and min(image.shape) > 100
    # A JPEG cut far shorter still opens or fails cleanly.
    short = copy_cut(cut[0], tmp_path / "short.jpg", -(cut[0].stat().st_size // 2))
    try:
        assert load_image(short).warnings
    except CorruptImageError as exc:
        assert exc.reason


def _ds(**values: object) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"PixelSpacing": [0.2, 0.3]}, PixelSpacing(0.2, 0.3, SpacingSource.PIXEL_SPACING)),
        (
            {"ImagerPixelSpacing": [0.2, 0.2], "EstimatedRadiographicMagnificationFactor": 1.25},
            PixelSpacing(0.16, 0.16, SpacingSource.IMAGER_CORRECTED),
        ),
        (
            {"ImagerPixelSpacing": [0.1, 0.1]},
            PixelSpacing(0.1, 0.1, SpacingSource.IMAGER_AT_DETECTOR),
        ),
        (
            {"PixelSpacing": [0, 0], "NominalScannedPixelSpacing": [0.05, 0.05]},
            PixelSpacing(0.05, 0.05, SpacingSource.NOMINAL_SCANNED),
        ),
        ({"PixelSpacing": [0.0, 0.0]}, None),
        ({"PixelSpacing": [-0.2, 0.2]}, None),
        ({"PixelSpacing": [25.0, 25.0]}, None),
        ({"PixelSpacing": [0.001, 0.001]}, None),
        ({"PixelSpacing": "0.2"}, None),
        ({}, None),
    ],
)
def test_spacing_rules(values: dict[str, object], expected: PixelSpacing | None) -> None:
    spacing = pixel_spacing(_ds(**values))
    if expected is None:
        assert spacing is None
    else:
        assert spacing is not None and spacing.source is expected.source
        assert (spacing.row, spacing.column) == pytest.approx((expected.row, expected.column))


def test_shared_copy_is_untouched_by_loading(dicom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "mr.dcm"
    shutil.copyfile(dicom_dir / MR, copy)
    before = copy.read_bytes()
    load_image(copy)
    assert copy.read_bytes() == before
