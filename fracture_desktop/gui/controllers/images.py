"""Decode the image the reader asked for, in a worker, newest request first.

Only the latest request matters: a request superseded before its turn is skipped without
decoding, and a result that arrives after a newer request is dropped (generation numbers).
Neighbours of the shown image are decoded ahead into a small cache so that stepping through
a series shows the next image without waiting for the decoder. Multi-frame files are decoded
one frame at a time, each frame cached under its own key.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.imaging.guard import guarded_image
from fracture_desktop.core.imaging.image import LoadedImage, default_voi
from fracture_desktop.core.imaging.records import ImageRecord
from fracture_desktop.gui.bridge import Worker
from fracture_desktop.gui.tags import TagRow, read_tags
from fracture_desktop.gui.windowing import Voi, presets, value_range

CACHE_SIZE = 6


@dataclass(frozen=True)
class Loaded:
    """What the viewer shows for one record, prepared off the GUI thread.

    ``presets`` (number-key order) and ``default`` (the window shown first) are computed here
    because their percentiles cost tens of milliseconds on a radiograph; ``span`` is the
    value range that scales mouse window/level.
    """

    record: ImageRecord
    image: LoadedImage
    tags: tuple[TagRow, ...]
    presets: tuple[Voi, ...] = ()
    default: Voi | None = None
    span: float = 1.0


class ImageLoader(QObject):
    """Loads one record at a time; the newest request wins."""

    sig_loaded = Signal(object)  # Loaded
    sig_failed = Signal(object, str, str)  # ImageRecord, reason, details

    def __init__(self, worker: Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._generation = 0
        self._cache: OrderedDict[tuple[Path, int], Loaded] = OrderedDict()
        self._lock = threading.Lock()  # the cache is filled in the worker, read in the GUI

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
        self._generation += 1

    def request(
        self, record: ImageRecord, neighbours: tuple[ImageRecord, ...] = (), frame: int = 0
    ) -> None:
        """Show frame ``frame`` of ``record`` as soon as it is decoded, then decode the first
        frame of ``neighbours`` ahead."""
        self._generation += 1
        generation = self._generation
        with self._lock:
            cached = self._cache.get((record.path, frame))
        if cached is not None and cached.record == record:
            self.sig_loaded.emit(cached)
        else:
            self._worker.submit(lambda: self._load_current(record, frame, generation))
        for neighbour in neighbours:
            self._worker.submit(lambda r=neighbour: self._prefetch(r, generation))

    def _load_current(self, record: ImageRecord, frame: int, generation: int) -> None:
        if generation != self._generation:
            return  # superseded before its turn: do not spend time decoding it
        try:
            loaded = self._decode(record, frame)
        except ImageLoadError as exc:
            reason, details = exc.reason, exc.details
            self._worker.post(lambda: self._fail(generation, record, reason, details))
            return
        self._worker.post(lambda: self._deliver(generation, loaded))

    def _prefetch(self, record: ImageRecord, generation: int) -> None:
        with self._lock:
            known = (record.path, 0) in self._cache
        if generation == self._generation and not known:
            with contextlib.suppress(ImageLoadError):  # reported when the reader opens it
                self._decode(record)

    def _decode(self, record: ImageRecord, frame: int = 0) -> Loaded:
        with warnings.catch_warnings():
            # Decoder complaints are kept in LoadedImage.warnings and shown with the image.
            warnings.simplefilter("ignore")
            image = guarded_image(record.path, frame)
            tags = read_tags(record) if frame == 0 else ()
        if frame > 0 or image.is_colour:
            # Colour has no windows; another frame of the record on show keeps that record's
            # tags, presets and window in the view, so only its pixels are needed.
            loaded = Loaded(record, image, tags)
        else:
            low, high = value_range(image)
            found = tuple(presets(image, record.modality))
            loaded = Loaded(record, image, tags, found, default_voi(image), max(high - low, 1.0))
        key = (record.path, frame)
        with self._lock:
            self._cache[key] = loaded
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return loaded

    def _deliver(self, generation: int, loaded: Loaded) -> None:
        if generation == self._generation:
            self.sig_loaded.emit(loaded)

    def _fail(self, generation: int, record: ImageRecord, reason: str, details: str) -> None:
        if generation == self._generation:
            self.sig_failed.emit(record, reason, details)
