"""What ``scan`` promises about its outputs: all or none, kept results, the whole model named.

Each test rebuilds a case a hostile tester found (docs/REPORTS.md): a PDF cell taller than a
page, a full disk, a de-identified console, a modified model card.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from fracture_desktop import cli
from fracture_desktop.batch import EXIT_OK, EXIT_WRITE_FAILED
from fracture_desktop.core.inference.card import CARD_FILE

CT = Path("dicom/pydicom_3.0.2/CT_small.dcm")


def _jpeg(shared_dir: Path) -> Path:
    jpegs = sorted((shared_dir / "datasets/fracatlas/images/Fractured").glob("*.jpg"))
    if not jpegs:
        pytest.skip("FracAtlas images are not available")
    return jpegs[0]


def _scan(folder: Path, model: Path, *extra: str) -> int:
    return cli.main(["scan", str(folder), "--model", str(model), "--device", "cpu", *extra])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_a_path_a_hundred_folders_deep_does_not_cost_the_pdf(
    shared_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    shutil.copy(_jpeg(shared_dir), folder / "top.jpg")
    # Deeper than PATH_MAX allows to name at once: made one level at a time.
    fd = os.open(folder, os.O_RDONLY)
    try:
        for level in range(100):
            name = f"level{level:03d}_" + "x" * 42
            os.mkdir(name, dir_fd=fd)
            deeper = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        out = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, _jpeg(shared_dir).read_bytes())
        os.close(out)
    finally:
        os.close(fd)
    csv_path, pdf = tmp_path / "r.csv", tmp_path / "r.pdf"
    assert _scan(folder, model_dir, "--csv", str(csv_path), "--pdf", str(pdf)) == EXIT_OK
    rows = _rows(csv_path)
    assert len(rows) == 2  # the picture, and the folder that cannot be named at once
    deep = max(rows, key=lambda row: len(row["file_path"]))
    assert len(deep["file_path"]) > 3900 and "too long" in deep["error"]  # whole in the CSV
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "top.jpg" in text and "too long" in text and "\u2026" in text  # elided


def _study(shared_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    for jpeg in sorted((shared_dir / "datasets/fracatlas/images/Fractured").glob("*.jpg"))[:3]:
        shutil.copy(jpeg, folder / jpeg.name)
    return folder


def test_a_full_disk_writes_no_report_and_a_rerun_costs_no_model_time(
    shared_dir: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fracture_desktop.core import triage
    from fracture_desktop.core.inference.engine import InferenceEngine

    folder = _study(shared_dir, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    scored: list[int] = []
    forward = InferenceEngine._forward

    def counting(self, values, heatmap):
        scored.append(1)  # one pass of the network per image scored
        return forward(self, values, heatmap)

    monkeypatch.setattr(InferenceEngine, "_forward", counting)

    def disk_full(f, *_args) -> None:  # the CSV is written after the PDF
        f.write(b"file_path,")
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as full:
        full.setattr(triage, "csv_to", disk_full)
        args = ["--csv", str(out / "r.csv"), "--pdf", str(out / "r.pdf")]
        code = _scan(folder, model_dir, *args, "--summary-json", str(out / "s.json"))
    assert code == EXIT_WRITE_FAILED
    assert list(out.iterdir()) == []  # not the PDF alone, no temporary file either
    assert len(scored) == 3

    # Run again: nothing is in the way, and the results kept in the store are reused.
    assert _scan(folder, model_dir, *args, "--summary-json", str(out / "s.json")) == EXIT_OK
    assert len(scored) == 3
    assert len(_rows(out / "r.csv")) == 3 and (out / "r.pdf").stat().st_size > 0
    assert json.loads((out / "s.json").read_text())["n_images"] == 3


def test_a_writer_that_fails_does_not_take_the_other_outputs_down(
    shared_dir: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fracture_desktop.core.report import pdf_report

    def layout_bug(*_args) -> None:
        raise RuntimeError("Flowable too large")  # as reportlab's LayoutError

    monkeypatch.setattr(pdf_report, "pdf_to", layout_bug)
    folder = _study(shared_dir, tmp_path)
    csv_path, pdf = tmp_path / "r.csv", tmp_path / "r.pdf"
    assert _scan(folder, model_dir, "--csv", str(csv_path), "--pdf", str(pdf)) == 5
    assert len(_rows(csv_path)) == 3 and not pdf.exists()


def test_deidentify_covers_the_console_summary(
    shared_dir: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    data = (shared_dir / CT).read_bytes()
    import pydicom

    ds = pydicom.dcmread(shared_dir / CT)
    ds.NumberOfFrames = "1"
    ds.save_as(tmp_path / "frames.dcm")
    data = (tmp_path / "frames.dcm").read_bytes()
    # A value no reader accepts, as a tester typed it: the error quotes it.
    data = data.replace(b"(\x00\x08\x00IS\x02\x001 ", b"(\x00\x08\x00IS\x0a\x00SECRETX01Q")
    assert b"SECRETX01Q" in data
    (folder / "secret.dcm").write_bytes(data)
    shutil.copy(_jpeg(shared_dir), folder / "fine.jpg")
    csv_path = tmp_path / "r.csv"
    assert _scan(folder, model_dir, "--csv", str(csv_path)) == EXIT_OK
    assert "SECRETX01Q" in capsys.readouterr().out  # the value is quoted ...
    assert _scan(folder, model_dir, "--csv", str(tmp_path / "d.csv"), "--deidentify") == EXIT_OK
    printed = capsys.readouterr()
    assert "SECRETX01Q" not in printed.out + printed.err  # ... and removed when asked
    assert "[value removed]" in printed.out


def _linked_copy(source: Path, target: Path) -> Path:
    """A model folder whose card can be edited; the big files are links."""
    target.mkdir()
    for item in source.iterdir():
        if item.name == CARD_FILE:
            shutil.copy(item, target / item.name)
        else:
            (target / item.name).symlink_to(item)
    return target


def test_every_output_names_the_card_and_a_modified_one_says_so(
    shipped_model_dir: Path, shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fracture_desktop.core.inference.card import load_card

    model = _linked_copy(shipped_model_dir, tmp_path / "model")
    card = json.loads((model / CARD_FILE).read_text(encoding="utf-8"))
    card["limitations"] = ["edited by hand"]
    (model / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    digest = load_card(model).card_sha256
    folder = _study(shared_dir, tmp_path)
    csv_path, pdf, summary = tmp_path / "r.csv", tmp_path / "r.pdf", tmp_path / "s.json"
    args = ["--csv", str(csv_path), "--pdf", str(pdf), "--summary-json", str(summary)]
    assert _scan(folder, model, *args) == EXIT_OK
    assert f"card {digest[:12]} MODIFIED" in capsys.readouterr().out
    rows = _rows(csv_path)
    assert {(r["model_card_sha256"], r["model_card"]) for r in rows} == {(digest, "modified")}
    assert {r["model_sha256_prefix"] for r in rows} == {load_card(model).sha256[:12]}
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert digest in text and "modified" in text
    assert json.loads(summary.read_text())["model_card"] == "modified"


def test_a_model_without_a_domain_check_says_so_in_every_output(
    shared_dir: Path, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _study(shared_dir, tmp_path)
    csv_path, pdf, summary = tmp_path / "r.csv", tmp_path / "r.pdf", tmp_path / "s.json"
    args = ["--csv", str(csv_path), "--pdf", str(pdf), "--summary-json", str(summary)]
    assert _scan(folder, model_dir, *args) == EXIT_OK  # the untrained model has none
    assert "NO DOMAIN CHECK" in capsys.readouterr().out
    assert {r["domain_check"] for r in _rows(csv_path)} == {"no domain check"}
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "NO DOMAIN CHECK" in text
    assert json.loads(summary.read_text())["domain_check"] == "no domain check"


@pytest.mark.parametrize("content", [b"[1,2,3]", b"\xff\xfe\x00garbage"], ids=["list", "bytes"])
def test_a_damaged_decisions_file_never_stops_a_scan(
    shared_dir: Path,
    model_dir: Path,
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "decisions.json").write_bytes(content)  # the user's, from an earlier version
    folder = _study(shared_dir, tmp_path)
    assert _scan(folder, model_dir, "--csv", str(tmp_path / "r.csv")) == EXIT_OK
    assert "decisions file was damaged" in capsys.readouterr().err
    assert len(_rows(tmp_path / "r.csv")) == 3
    assert (data_dir / "decisions.json.bak").read_bytes() == content
