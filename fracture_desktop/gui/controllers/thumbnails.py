"""Thumbnails, image identities and model inputs, made in a worker while the reader works.

Each image is decoded once here: the same display image gives the thumbnail and, when the
model's input is known, the model input, left in a :class:`PreparedCache` for the analysis
(see docs/ARCHITECTURE.md, data path).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from fracture_desktop.core.analysis import read_image
from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.imaging.image import display_grey
from fracture_desktop.core.imaging.model_input import InputSpec
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.jobs import CancelToken
from fracture_desktop.core.prepared import PreparedCache, prepare
from fracture_desktop.gui.bridge import Worker

THUMB_SIZE = 64


def thumbnail(grey: np.ndarray, size: int = THUMB_SIZE) -> QImage:
    """A grey thumbnail of display values in [0, 1] (``display_grey`` of the first frame).

    QImage (unlike QPixmap) may be built outside the GUI thread.
    """
    step = max(1, int(np.ceil(max(grey.shape) / size)))
    small = np.ascontiguousarray((grey[::step, ::step] * 255.0).astype(np.uint8))
    rows, cols = small.shape
    return QImage(small.data, cols, rows, cols, QImage.Format.Format_Grayscale8).copy()


class ThumbnailMaker(QObject):
    """Makes thumbnails, identities (for reader decisions) and model inputs for a folder.

    Parameters
    ----------
    worker : Worker
        The thread that decodes.
    prepared : PreparedCache
        Where model inputs wait for the analysis.
    input_spec : callable
        ``input_spec()`` is the model's input, or None while it is not known (then no
        model input is made).
    """

    sig_thumbnail_ready = Signal(object, object)  # ImageRecord, QImage
    sig_identity_ready = Signal(object, str)  # ImageRecord, identity

    def __init__(
        self,
        worker: Worker,
        prepared: PreparedCache,
        input_spec: Callable[[], InputSpec | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._worker = worker
        self._prepared = prepared
        self._input_spec = input_spec
        self._cancel = CancelToken()

    def reset(self) -> None:
        """Forget queued work and waiting model inputs: a new folder is being opened."""
        self._cancel.cancel()
        self._cancel = CancelToken()
        self._prepared.clear()

    def cancel(self) -> None:
        self._cancel.cancel()

    def add(self, records: list[ImageRecord]) -> None:
        token = self._cancel
        for record in records:
            self._worker.submit(lambda r=record: self._make(r, token))

    def _make(self, record: ImageRecord, token: CancelToken) -> None:
        token.raise_if_cancelled()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decoder notes are shown when the image is opened
            read = read_image(record)
        if not read.identity:
            return  # the file went away; the image itself reports it when opened
        identity = read.identity
        self._worker.post(lambda: token.cancelled or self.sig_identity_ready.emit(record, identity))
        if read.image is None:
            return  # unreadable: the reader sees why when opening it
        grey = display_grey(read.image)
        spec = self._input_spec()
        if spec is not None and not token.cancelled:
            # A non-finite input is left to the analysis, which decodes it and says why.
            with contextlib.suppress(ImageLoadError):
                self._prepared.put(prepare(record, identity, read.image, spec, grey))
        image = thumbnail(grey)
        self._worker.post(lambda: token.cancelled or self.sig_thumbnail_ready.emit(record, image))
