"""Thumbnails and image identities, made in a worker while the reader works."""

from __future__ import annotations

import warnings

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.imaging.guard import guarded_image
from fracture_desktop.core.imaging.image import display_grey
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.core.imaging.scan import image_identity
from fracture_desktop.core.jobs import CancelToken
from fracture_desktop.gui.bridge import Worker

THUMB_SIZE = 64


def thumbnail(record: ImageRecord, size: int = THUMB_SIZE) -> QImage:
    """A grey thumbnail of the first frame, shown with its default window.

    QImage (unlike QPixmap) may be built outside the GUI thread.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # decoder notes are shown when the image is opened
        grey = display_grey(guarded_image(record.path))
    step = max(1, int(np.ceil(max(grey.shape) / size)))
    small = np.ascontiguousarray((grey[::step, ::step] * 255.0).astype(np.uint8))
    rows, cols = small.shape
    return QImage(small.data, cols, rows, cols, QImage.Format.Format_Grayscale8).copy()


class ThumbnailMaker(QObject):
    """Makes thumbnails (and identities, for reader decisions) for the records of one folder."""

    sig_thumbnail_ready = Signal(object, object)  # ImageRecord, QImage
    sig_identity_ready = Signal(object, str)  # ImageRecord, identity

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._cancel = CancelToken()

    def reset(self) -> None:
        """Forget queued work: a new folder is being opened."""
        self._cancel.cancel()
        self._cancel = CancelToken()

    def cancel(self) -> None:
        self._cancel.cancel()

    def add(self, records: list[ImageRecord]) -> None:
        token = self._cancel
        for record in records:
            self._worker.submit(lambda r=record: self._make(r, token))

    def _make(self, record: ImageRecord, token: CancelToken) -> None:
        token.raise_if_cancelled()
        try:
            identity = image_identity(record)
        except OSError:
            return  # the file went away; the image itself reports it when opened
        self._worker.post(lambda: token.cancelled or self.sig_identity_ready.emit(record, identity))
        try:
            image = thumbnail(record)
        except (ImageLoadError, IndexError):
            return
        self._worker.post(lambda: token.cancelled or self.sig_thumbnail_ready.emit(record, image))
