"""Model inputs prepared when an image is first decoded, so one decode serves every use.

The viewer decodes each image of a folder once, in its thumbnail worker: the same display
image gives the thumbnail and, through
:func:`~fracture_desktop.core.imaging.model_input.input_from_grey`, the model input, which
waits here until the model asks for it. A later analysis then scores the image without
decoding it again. The cache is bounded in bytes; an image that fell out is simply decoded
again. See docs/ARCHITECTURE.md (data path).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fracture_desktop.core.imaging.image import LoadedImage, SpacingSource
from fracture_desktop.core.imaging.model_input import InputSpec, input_from_grey
from fracture_desktop.core.imaging.records import ImageRecord

#: Memory the waiting model inputs may take: about 256 images of a 256 px grey network.
DEFAULT_MAX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class PreparedImage:
    """What scoring one image and reporting on it need, without the decoded pixels.

    Attributes
    ----------
    record : ImageRecord
        The image.
    identity : str
        Its identity (SOP Instance UID or content hash).
    spec : InputSpec
        The input the values were made for.
    values : np.ndarray
        The model input, float32 (channels, size, size).
    shape : tuple of int
        The image's (rows, columns), to map a heatmap back onto it.
    spacing_source : SpacingSource or None
        Where its calibration comes from; None when uncalibrated.
    warnings : tuple of str
        Decoder complaints that did not stop loading.
    """

    record: ImageRecord
    identity: str
    spec: InputSpec
    values: np.ndarray
    shape: tuple[int, int]
    spacing_source: SpacingSource | None = None
    warnings: tuple[str, ...] = ()


def prepare(
    record: ImageRecord,
    identity: str,
    image: LoadedImage,
    spec: InputSpec,
    grey: np.ndarray,
) -> PreparedImage:
    """The prepared form of ``image``, from its display grey (``display_grey(image)``)."""
    spacing = image.spacing.source if image.spacing else None
    values = input_from_grey(grey, spec, image.path)
    return PreparedImage(record, identity, spec, values, image.shape, spacing, image.warnings)


class PreparedCache:
    """Prepared images waiting for the model, oldest dropped first beyond ``max_bytes``.

    Thread-safe: the thumbnail worker puts, the model worker takes.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Path, InputSpec], PreparedImage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, prepared: PreparedImage) -> None:
        key = (prepared.record.path, prepared.spec)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.values.nbytes
            self._items[key] = prepared
            self._bytes += prepared.values.nbytes
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.values.nbytes

    def take(self, record: ImageRecord, spec: InputSpec) -> PreparedImage | None:
        """The prepared form of ``record`` for ``spec``, removed from the cache; or None."""
        with self._lock:
            prepared = self._items.pop((record.path, spec), None)
            if prepared is None:
                return None
            self._bytes -= prepared.values.nbytes
            return prepared if prepared.record == record else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)
