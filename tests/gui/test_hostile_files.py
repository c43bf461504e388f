"""Opening files that abort or exhaust a decoder: the viewer reports them and keeps running."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fracture_desktop.core.imaging.scan import scan_folder
from fracture_desktop.gui.tags import read_tags

pytestmark = pytest.mark.gui

CRASHING = ("m0303_attrs_s08", "m0388_wrongts_s10", "m1679_attrs_s40")
BOMBS = ("d_jpeg_65500x65500.dcm", "d_jpeg_sof_mismatch.dcm", "d_j2k_60000x60000.dcm")


def test_opening_r06_and_r11_files_leaves_the_viewer_running(
    qtbot, make_window, fuzz_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    for name in CRASHING:
        shutil.copy(fuzz_dir / "R06_gdcm_abort_jpegls_columns" / name, folder / name)
    for name in BOMBS:
        shutil.copy(fuzz_dir / "R11_memory_bomb_compressed" / name, folder / name)
    shutil.copy(fuzz_dir / "R06_gdcm_abort_jpegls_columns" / "control_ok.dcm", folder / "ok.dcm")
    window = make_window()
    with qtbot.waitSignal(window.scan.sig_finished, timeout=30000):
        window.open_folder(folder)
    records = {r.path.name: r for r in window.session.records.values()}
    listed = {Path(name).name: reason for name, reason in window.problems.problems()}
    for name in (*CRASHING, *BOMBS):
        if name in listed:  # refused by the header scan already, with its reason
            assert listed[name]
            continue
        window.reading.show_record(records[name])
        qtbot.waitUntil(
            lambda n=name: any(n in notice.reason for notice in window.status.notices.notices),
            timeout=60000,
        )
        notice = next(n for n in window.status.notices.notices if name in n.reason)
        refusals = ("decoder crashed", "image too large", "larger than its header declares")
        assert any(refusal in notice.reason for refusal in refusals), notice.reason
        assert window.isVisible()
    opened = [n for n in (*CRASHING, *BOMBS) if n not in listed]
    assert len(opened) >= len(CRASHING), "the crashing files must reach the decoder"
    window.reading.show_record(records["ok.dcm"])
    qtbot.waitUntil(lambda: window.view.record == records["ok.dcm"], timeout=20000)
    assert window.view.image is not None and window.isVisible()


def test_the_tag_browser_shows_what_it_can_of_a_damaged_header(
    fuzz_dir: Path, tmp_path: Path
) -> None:
    data = (fuzz_dir / "R06_gdcm_abort_jpegls_columns" / "control_ok.dcm").read_bytes()
    at = data.index(b"\x08\x00\x08\x00CS")  # (0008,0008) Image Type, never read by the scan
    path = tmp_path / "bad_vr.dcm"
    path.write_bytes(data[: at + 4] + b"TE" + data[at + 6 :])
    (record,) = scan_folder(tmp_path).images
    rows = read_tags(record)
    assert rows[0].tag.startswith("(0002,")  # the file meta, read before the damage
    assert "the rest of the header is damaged" in rows[-1].value
