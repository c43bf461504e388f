"""The PDF report: identities, counts, key images, de-identification, cancel."""

from __future__ import annotations

import shutil
import subprocess
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from report_helpers import context, entries

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.display import BOX_COLOUR
from fracture_desktop.core.jobs import Cancelled, CancelToken
from fracture_desktop.core.report import OutputExistsError, make_key_image, write_pdf


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_pdf_names_model_app_counts_and_images(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    out = write_pdf(
        entries(), tmp_path / "r.pdf", context(), progress=lambda d, t: seen.append((d, t))
    )
    text = pdf_text(out)
    for expected in (
        "Fracture screening report",
        "Fracture Desktop 1.2.3",
        "fracture_net-test 9.9.9",
        "0123456789ab",
        "cpu, ONNX Runtime 9.9.9",  # what ran the model
        "0.700",  # thresholds
        "0.300",
        "Research and reading aid; not a diagnosis.",
        "1.2.3.4.5.6",  # SOP Instance UID of the flagged DICOM
        "sha256:abc",
        "Müller Jürgen",
        "PID-77",
        "empty file",
        "confirmed",
        "JPEG data ends early",
    ):
        assert expected in text, expected
    assert "Total 4" in text.replace("\n", " ")
    reader = PdfReader(out)
    images = [img for page in reader.pages for img in page.images]
    assert len(images) == 4  # two flagged entries, display + overlay each
    assert seen and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})  # rising, never past total


def test_deidentified_pdf_has_no_patient_data(tmp_path: Path) -> None:
    full = " ".join(pdf_text(write_pdf(entries(), tmp_path / "full.pdf", context())).split())
    assert "W 1 L 0 (BONE for Dr Okafor)" in full  # the caption names the file's window
    text = pdf_text(write_pdf(entries(), tmp_path / "r.pdf", context(), deidentify=True))
    for secret in ("Müller", "Jürgen", "PID-77", "19500101", "Okafor"):
        assert secret not in text
    assert "window W 1 L 0" in " ".join(text.split())
    assert "de-identified" in text
    assert "1.2.3.4.5.6" in text  # identities stay: they find the image again


def test_cancel_leaves_no_file(tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        write_pdf(entries(), tmp_path / "r.pdf", context(), cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_existing_pdf_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    out.write_bytes(b"mine")
    with pytest.raises(OutputExistsError):
        write_pdf(entries(), out, context())
    assert out.read_bytes() == b"mine"


def test_no_flagged_image_says_so(tmp_path: Path) -> None:
    calm = [e for e in entries() if not e.is_flagged]
    assert "No image was flagged." in pdf_text(write_pdf(calm, tmp_path / "r.pdf", context()))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_pages_render_with_content(tmp_path: Path) -> None:
    out = write_pdf(entries(), tmp_path / "r.pdf", context())
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "2", str(out), str(tmp_path / "p")],
        check=True,
    )
    front, flagged = (
        np.asarray(Image.open(png).convert("L"), dtype=np.float32)
        for png in sorted(tmp_path.glob("p*.png"))
    )
    # Page 1, header and summary: text, not a blank sheet. Page 2, the flagged images:
    # their pictures (two to a page).
    assert front.std() > 10 and (front < 64).mean() > 0.002
    assert (flagged < 64).mean() > 0.05


def test_no_heading_is_left_at_the_foot_of_a_page(tmp_path: Path) -> None:
    pages = [
        p.extract_text()
        for p in PdfReader(write_pdf(entries(), tmp_path / "r.pdf", context())).pages
    ]

    def page_of(text: str) -> int:
        return next(i for i, page in enumerate(pages) if text in page)

    # Each heading is on the page where its section starts: the first flagged image, the
    # table of all images (its "Note" column).
    assert page_of("Flagged images") == page_of("reader: confirmed")
    assert page_of("All images") == page_of("Note")


def test_memory_does_not_grow_with_flagged_images(tmp_path: Path) -> None:
    """Decoded key images are dropped once drawn: 30 distinct pairs of 512 px pictures
    would hold 37 MB if they stayed alive until the document was finished."""
    base = entries()[0]
    many = []
    for i in range(30):
        grey = np.zeros((512, 400), dtype=np.float32)
        grey[:, i * 12 : i * 12 + 20] = 1.0  # a different picture each time: no de-duplication
        key = make_key_image(grey, grey, "W 1 L 0 (test)")
        many.append(replace(base, path=base.path.with_name(f"{i}.dcm"), key_image=key))
    tracemalloc.start()
    try:
        write_pdf(many, tmp_path / "r.pdf", context())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(PdfReader(tmp_path / "r.pdf").pages) >= 15
    assert peak < 15 * 2**20


def cyan(picture: Image.Image) -> np.ndarray:
    """Pixels of the box colour's hue (JPEG shifts the exact value), as a mask."""
    rgb = np.asarray(picture.convert("RGB"), dtype=int)
    return (rgb[..., 1] - rgb[..., 0] > 100) & (rgb[..., 2] - rgb[..., 0] > 100)


def test_a_key_image_shows_the_localisers_boxes(tmp_path: Path) -> None:
    assert cyan(Image.new("RGB", (1, 1), BOX_COLOUR)).all()
    grey = np.full((300, 200), 0.3, dtype=np.float32)
    box = Box(50.0, 60.0, 120.0, 140.0, 0.8)
    key = make_key_image(grey, None, "W 1 L 0", boxes=(box,))
    out = write_pdf([replace(entries()[0], key_image=key)], tmp_path / "r.pdf", context())
    assert "Suspected fractures" in pdf_text(out)
    masks = [cyan(img.image) for page in PdfReader(out).pages for img in page.images]
    assert len(masks) == 2
    # The picture as displayed has no box; the overlay picture has its outline.
    (plain,) = [m for m in masks if not m.any()]
    (on_box,) = [m for m in masks if m.any()]
    assert plain.shape == on_box.shape == (300, 200)
    # The outline runs along the box's sides (JPEG blurs it by a pixel or two) ...
    for r, c in ((60, 85), (140, 85), (100, 50), (100, 120)):
        assert on_box[r - 2 : r + 3, c - 2 : c + 3].any(), (r, c)
    # ... and nowhere far from it (the score sits just above its top-left corner).
    on_box[40:145, 45:125] = False
    assert not on_box.any()
