"""Hostile inputs at the imaging API: reproducers from ../shared/fuzz and special folder entries."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest

from fracture_desktop.core.errors import (
    CorruptImageError,
    DecoderCrashError,
    ImageTooLargeError,
    NonFiniteValueError,
    NotAnImageError,
)
from fracture_desktop.core.imaging.codestream import declared_shape
from fracture_desktop.core.imaging.dicom import read_dataset, voi_windows
from fracture_desktop.core.imaging.guard import guarded_image
from fracture_desktop.core.imaging.image import (
    LoadedImage,
    VoiFunction,
    VoiWindow,
    apply_window,
    display_grey,
)
from fracture_desktop.core.imaging.model_input import InputSpec, model_input
from fracture_desktop.core.imaging.scan import scan_folder

MR = Path("pydicom_3.0.2/MR_small.dcm")


def test_codestream_sizes_are_read_from_the_markers(fuzz_dir: Path) -> None:
    folder = fuzz_dir / "R11_memory_bomb_compressed"
    shapes = {}
    for name in ("d_jpeg_65500x65500.dcm", "d_j2k_60000x60000.dcm"):
        ds = pydicom.dcmread(folder / name)
        fragment = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
        shapes[name] = declared_shape(fragment)
    assert shapes == {
        "d_jpeg_65500x65500.dcm": (65500, 65500),
        "d_j2k_60000x60000.dcm": (60000, 60000),
    }
    assert declared_shape(b"\x00\x01 not a codestream") is None


def test_real_codestreams_declare_their_header_size(dicom_dir: Path) -> None:
    for name, codec in (
        ("JPEG2000.dcm", "J2K"),
        ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS"),
        ("JPEG-lossy.dcm", "JPEG"),
    ):
        ds = pydicom.dcmread(dicom_dir / "pydicom_3.0.2" / name)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        fragment = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=frames))
        assert declared_shape(fragment) == (ds.Rows, ds.Columns), codec


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("d_jpeg_65500x65500.dcm", "image too large: 65500 x 65500 declared"),
        ("d_jpeg_sof_mismatch.dcm", r"JPEG data is larger than its header declares \(65500 x 6"),
        ("d_j2k_60000x60000.dcm", "image too large: 60000 x 60000 declared"),
    ],
)
def test_compressed_bombs_are_refused_before_decoding(
    fuzz_dir: Path, name: str, reason: str
) -> None:
    with pytest.raises(ImageTooLargeError, match=reason):
        guarded_image(fuzz_dir / "R11_memory_bomb_compressed" / name)


def test_a_decompression_bomb_picture_is_refused(fuzz_dir: Path) -> None:
    path = fuzz_dir / "R02_decompression_bomb_png" / "p_png_bomb_30000x30000.png"
    with pytest.raises(ImageTooLargeError, match="image too large"):
        guarded_image(path)


def test_a_decoder_that_aborts_the_process_is_one_file_problem(fuzz_dir: Path) -> None:
    folder = fuzz_dir / "R06_gdcm_abort_jpegls_columns"
    for path in sorted(p for p in folder.iterdir() if p.name != "control_ok.dcm"):
        with pytest.raises(DecoderCrashError, match="decoder crashed"):
            guarded_image(path)
    assert guarded_image(folder / "control_ok.dcm").shape == (64, 64)


def test_a_native_panic_is_caught(fuzz_dir: Path) -> None:
    with pytest.raises(CorruptImageError, match="PanicException"):
        guarded_image(fuzz_dir / "R07_pyo3_panic_rle" / "m0374_pflip_s10")


@pytest.mark.parametrize(
    ("folder", "reason"),
    [
        ("R01_recursion_nested_sq", "nested too deeply"),
        ("R03_zlib_error_wrong_ts_deflate", "DICOM header is damaged"),
        ("R04_notimplemented_unknown_vr", "DICOM header is damaged"),
        ("R05_byteslength_meta_grouplen", "DICOM header is damaged"),
    ],
)
def test_damaged_headers_are_listed_by_the_scan(fuzz_dir: Path, folder: str, reason: str) -> None:
    result = scan_folder(fuzz_dir / folder)
    assert [r.path.name for r in result.images] == ["control_ok.dcm"]
    assert result.problems
    assert all(reason in p.reason for p in result.problems)


def test_non_finite_rescale_is_a_problem_not_a_number(fuzz_dir: Path) -> None:
    folder = fuzz_dir / "R09_nan_probability_no_fracture"
    for name in ("d_rescale_nan.dcm", "d_rescale_inf.dcm"):
        with pytest.raises(NonFiniteValueError, match="not finite"):
            guarded_image(folder / name)
    # A sigmoid narrower than float32 resolves gives NaN at its centre: the file's only
    # window cannot be applied, and an automatic one would score a picture never meant.
    with pytest.raises(CorruptImageError, match="the file's window cannot be applied"):
        guarded_image(folder / "d_sigmoid_tiny_width.dcm")
    # Applied anyway (a window made by hand), the sigmoid becomes the step it tends to.
    step = apply_window(np.arange(5, dtype=np.float32), VoiWindow(2.0, 1e-45, VoiFunction.SIGMOID))
    assert step.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_a_voi_lut_with_one_value(fuzz_dir: Path, tmp_path: Path) -> None:
    path = fuzz_dir / "R10_zerodivision_voi_lut" / "d_voilut_zero_bits.dcm"
    with pytest.raises(CorruptImageError, match="the file's VOI LUT cannot be applied"):
        guarded_image(path)
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = 600, 1600
    ds.save_as(tmp_path / "with_window.dcm")
    image = guarded_image(tmp_path / "with_window.dcm")  # the window is what shows first
    assert image.voi_luts == () and len(image.windows) == 1
    assert any("VOI LUT with one value" in w for w in image.warnings)
    grey = display_grey(image)
    assert np.isfinite(grey).all() and grey.max() > grey.min()


def test_model_input_refuses_non_finite_values(tmp_path: Path) -> None:
    values = np.ones((32, 32), dtype=np.float32)
    values[3, 4] = np.nan
    image = LoadedImage(tmp_path / "x.dcm", 0, values, values)
    with pytest.raises(NonFiniteValueError, match="model input is not finite"):
        model_input(image, InputSpec(size=16))


def test_every_folder_entry_is_accounted_for(dicom_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "good.dcm").write_bytes((dicom_dir / MR).read_bytes())
    os.mkfifo(folder / "pipe")
    (folder / "dangling").symlink_to(folder / "gone")
    (folder / "loop").symlink_to(folder / "loop")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock"))
    try:
        result = scan_folder(folder)
    finally:
        server.close()
    assert [r.path.name for r in result.images] == ["good.dcm"]
    reasons = {p.path.name: p.reason for p in result.problems}
    assert reasons == {
        "pipe": "named pipe (FIFO), not a file",
        "dangling": "broken link: its target does not exist",
        "loop": "link loops back on itself",
        "sock": "socket, not a file",
    }


def test_a_fifo_given_directly_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    done = threading.Event()
    outcome: list[object] = []

    def scan() -> None:
        outcome.append(scan_folder(fifo))
        done.set()

    threading.Thread(target=scan, daemon=True).start()
    assert done.wait(30), "scan_folder blocked on a FIFO"
    (problem,) = outcome[0].problems  # type: ignore[attr-defined]
    assert problem.reason == "named pipe (FIFO), not a file"
    with pytest.raises(NotAnImageError, match="FIFO"):
        guarded_image(fifo)


def test_an_unknown_vr_in_the_file_meta_is_a_damaged_header(
    dicom_dir: Path, tmp_path: Path
) -> None:
    data = (dicom_dir / MR).read_bytes()
    at = data.index(b"\x02\x00\x02\x00UI")  # (0002,0002) Media Storage SOP Class UID
    path = tmp_path / "bad_vr.dcm"
    path.write_bytes(data[: at + 4] + b"\x55\xc9" + data[at + 6 :])
    with pytest.raises(CorruptImageError, match="DICOM header is damaged"):
        read_dataset(path, header_only=True)
    (problem,) = scan_folder(tmp_path).problems
    assert problem.reason == "DICOM header is damaged"


def test_windows_beyond_float32_are_dropped() -> None:
    ds = pydicom.Dataset()
    ds.WindowCenter = ["1e308", "40", "-40"]
    ds.WindowWidth = ["1e308", "400", "1e39"]
    assert [(w.center, w.width) for w in voi_windows(ds)] == [(40.0, 400.0)]
