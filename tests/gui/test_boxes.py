"""The localiser's boxes on screen: where the engine put them, through zoom and rotation."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import FakeEngine, open_and_wait
from PySide6.QtCore import QPointF, QRect
from PySide6.QtGui import QImage

from fracture_desktop.core.boxes import Box
from fracture_desktop.core.display import BOX_COLOUR

pytestmark = pytest.mark.gui


@pytest.fixture
def two_images(tmp_path: Path, shared_dir: Path) -> Path:
    folder = tmp_path / "boxes"
    folder.mkdir()
    jpegs = sorted((shared_dir / "datasets/fracatlas/images/Fractured").glob("*.jpg"))[:2]
    if len(jpegs) < 2:
        pytest.skip("FracAtlas images are not available")
    for name, jpeg in zip(("a_flagged.jpg", "b_normal.jpg"), jpegs, strict=True):
        shutil.copy(jpeg, folder / name)
    return folder


def screen_rgb(view) -> np.ndarray:
    shot = view.graphics.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = shot.width(), shot.height()
    rgb = np.frombuffer(shot.constBits(), np.uint8).reshape(h, shot.bytesPerLine())[:, : 3 * w]
    return rgb.reshape(h, w, 3).astype(int)


def box_colour_mask(view) -> np.ndarray:
    return np.abs(screen_rgb(view) - np.array(BOX_COLOUR)).sum(axis=2) < 60


def outline_found(view, rect: tuple[float, float, float, float]) -> bool:
    """Whether the box colour lies on each of the four sides of ``rect`` (screen pixels),
    within 2 px, at the middle of each side."""
    mask = box_colour_mask(view)
    left, top, right, bottom = rect
    mid_x, mid_y = (left + right) / 2, (top + bottom) / 2
    for x, y in ((left, mid_y), (right, mid_y), (mid_x, top), (mid_x, bottom)):
        c, r = round(x), round(y)
        if not mask[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3].any():
            return False
    return True


def label_on_screen(view, plate) -> QRect:
    """Where a box's label (drawn at one size whatever the zoom) lies on screen."""
    transform = plate.deviceTransform(view.graphics.viewportTransform())
    return transform.mapRect(plate.rect()).toAlignedRect()


def expected_pixels(view, box: Box) -> tuple[float, float, float, float]:
    """Where ``box`` (stored-image pixels) lands on screen, through the view's transforms."""
    corners = [
        view.graphics.mapFromScene(view.image_item.mapToScene(QPointF(x, y)))
        for x in (box.x0, box.x1)
        for y in (box.y0, box.y1)
    ]
    xs, ys = [c.x() for c in corners], [c.y() for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def test_boxes_are_drawn_where_the_engine_put_them_and_follow_rotation_and_flips(
    qtbot, make_window, two_images: Path
) -> None:
    box = Box(60.0, 80.0, 140.0, 150.0, 0.82)
    engine = FakeEngine(
        {"a_flagged.jpg": 0.9, "b_normal.jpg": 0.1},
        boxes={"a_flagged.jpg": (box,), "b_normal.jpg": (box,)},
    )
    window = make_window(engine)
    open_and_wait(qtbot, window, two_images)
    view = window.view
    assert view.record.path.name == "a_flagged.jpg"
    window.act_analyse_folder.trigger()
    qtbot.waitUntil(lambda: len(window.session.findings) == 2, timeout=20000)
    qtbot.waitUntil(lambda: view.box_overlay.shown == (box,), timeout=5000)
    for turn in range(3):
        qtbot.wait(50)
        wanted = expected_pixels(view, box)
        assert outline_found(view, wanted), f"no outline at {wanted} after {turn} turns"
        # Elsewhere the screen holds no box colour but the score label, at the corner
        # that is the box's top left on screen.
        mask = box_colour_mask(view)
        left, top, right, bottom = (round(v) for v in wanted)
        mask[max(top - 2, 0) : bottom + 3, max(left - 2, 0) : right + 3] = False
        (plate,) = view.box_overlay.labels
        shown = label_on_screen(view, plate)
        assert abs(shown.left() - left) <= 2 and abs(shown.bottom() - top) <= 2
        mask[
            max(shown.top() - 1, 0) : shown.bottom() + 2,
            max(shown.left() - 1, 0) : shown.right() + 2,
        ] = False
        assert not mask.any()
        window.act_rotate.trigger() if turn == 0 else window.act_flip_vertical.trigger()
    # H hides the boxes and shows them again.
    window.act_boxes.trigger()
    qtbot.waitUntil(lambda: not box_colour_mask(view).any(), timeout=5000)
    window.act_boxes.trigger()
    qtbot.waitUntil(lambda: box_colour_mask(view).any(), timeout=5000)
    # An image the model calls normal shows no boxes, though the engine gave one.
    window.act_next.trigger()
    qtbot.waitUntil(lambda: view.record.path.name == "b_normal.jpg", timeout=10000)
    qtbot.wait(50)
    assert view.box_overlay.shown == () and not box_colour_mask(view).any()
