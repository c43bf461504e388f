"""``scan`` over each reproducer of ../shared/fuzz: exit 0, the control analysed, each bad file
listed with a reason, nothing non-finite, no crash output on the terminal."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from hostile_helpers import run_scan

FOLDERS = (
    "R01_recursion_nested_sq",
    "R02_decompression_bomb_png",
    "R03_zlib_error_wrong_ts_deflate",
    "R04_notimplemented_unknown_vr",
    "R05_byteslength_meta_grouplen",
    "R06_gdcm_abort_jpegls_columns",
    "R07_pyo3_panic_rle",
    "R09_nan_probability_no_fracture",
    "R10_zerodivision_voi_lut",
    "R11_memory_bomb_compressed",
)
CONTROL = "control_ok.dcm"


def test_every_reproducer_folder_is_covered(fuzz_dir: Path) -> None:
    assert {p.name for p in fuzz_dir.iterdir() if p.is_dir()} == set(FOLDERS)


@pytest.mark.parametrize("name", FOLDERS)
def test_scan_lists_each_bad_file_and_analyses_the_control(
    fuzz_dir: Path, model_dir: Path, tmp_path: Path, name: str
) -> None:
    folder = shutil.copytree(fuzz_dir / name, tmp_path / name)
    if not (folder / CONTROL).exists():  # R11 comes without one
        shutil.copy(fuzz_dir / FOLDERS[0] / CONTROL, folder / CONTROL)
    run = run_scan(folder, model_dir, tmp_path)
    assert run.code == 0, run.stderr
    assert set(run.rows) == {p.name for p in folder.iterdir()}
    assert run.rows[CONTROL]["probability"]
    for file_name, row in run.rows.items():
        if row["probability"]:
            assert math.isfinite(float(row["probability"]))
            assert row["flag"] != "not analysed"
        if file_name != CONTROL:
            assert row["flag"] == "not analysed", file_name
            assert row["error"], file_name
    assert "Traceback" not in run.stderr
    assert "terminate called" not in run.stderr and "panicked" not in run.stderr
