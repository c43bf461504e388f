"""The heatmap drawn over the image: a second image item, tinted where the score came from.

The heatmap is a child of the image item, so it turns and flips with the image and draws
above it; the image's own pixels are never altered.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from fracture_desktop.core.display import HEAT_LUT


def heatmap_lut() -> np.ndarray:
    """RGBA table: the heatmap colours, alpha rising with the value so cold areas stay
    clear and only the regions that drove the score are tinted."""
    alpha = np.linspace(0, 255, 256)[:, None]
    return np.hstack([HEAT_LUT, alpha]).round().astype(np.uint8)


class HeatmapLayer:
    """A [0, 1] map over ``image_item``, in its pixels.

    Parameters
    ----------
    image_item : pg.ImageItem
        The image the map belongs to.
    """

    def __init__(self, image_item: pg.ImageItem) -> None:
        self.item = pg.ImageItem(axisOrder="row-major")
        # A child of the image (ImageItem takes no parent argument): it follows the image's
        # rotation and flips and draws above it.
        self.item.setParentItem(image_item)
        self.item.setLookupTable(heatmap_lut())
        self.item.setZValue(10)
        self.item.setVisible(False)

    @property
    def present(self) -> bool:
        """Whether a map is loaded (shown or not)."""
        return self.item.image is not None

    def set(self, heatmap: np.ndarray | None, visible: bool) -> None:
        """Load ``heatmap`` (the image's shape), shown when ``visible``; None removes it."""
        if heatmap is None:
            self.item.clear()
            self.item.setVisible(False)
            return
        self.item.setImage(heatmap, autoLevels=False, levels=(0.0, 1.0))
        self.item.setVisible(visible)

    def show(self, visible: bool, opacity_percent: float) -> None:
        """Show a loaded map (an absent one stays hidden) at ``opacity_percent``."""
        self.item.setVisible(visible and self.present)
        self.item.setOpacity(opacity_percent / 100)
