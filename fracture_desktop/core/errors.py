"""Typed errors: each carries what the user needs to read and what a developer needs to fix.

Every error has a short ``reason`` for a one-line message and optional ``details`` shown on
demand. Errors about a file carry its ``path`` so problems can be listed per file.
"""

from __future__ import annotations

from pathlib import Path


class FractureDesktopError(Exception):
    """Base class of every error this package raises on purpose.

    Parameters
    ----------
    reason : str
        One short human sentence, e.g. ``"JPEG 2000 data ends early"``.
    details : str, optional
        Longer technical text (exception chain, tag values) shown on demand.
    """

    def __init__(self, reason: str, details: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross from the decoder process (core/imaging/guard.py) by pickle, which
        # rebuilds an exception from ``args`` alone unless told otherwise.
        return type(self), (self.reason, self.details)


class ImageLoadError(FractureDesktopError):
    """A file could not be read as an image.

    Parameters
    ----------
    path : Path
        The file concerned.
    reason, details : str
        See :class:`FractureDesktopError`.
    """

    def __init__(self, path: Path | str, reason: str, details: str = "") -> None:
        super().__init__(reason, details)
        self.path = Path(path)

    def __reduce__(self) -> tuple[object, ...]:
        return type(self), (self.path, self.reason, self.details)

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}"


class NotAnImageError(ImageLoadError):
    """The file is neither DICOM nor a supported picture format."""


class SkippedFile(ImageLoadError):
    """A file a scan deliberately does not show, and that is not a problem: a DICOMDIR, a
    report or another document."""


class NoPixelDataError(ImageLoadError):
    """A DICOM file that holds no image (a report, a DICOMDIR, a header-only object)."""


class UnsupportedTransferSyntaxError(ImageLoadError):
    """The DICOM pixel data is encoded in a transfer syntax no installed decoder handles."""


class CorruptImageError(ImageLoadError):
    """The file claims to be an image but its data is damaged or ends early."""


class UnreferenceableError(ImageLoadError):
    """An analysed image that DICOM results cannot reference (its UIDs are not valid)."""


class FrameOutOfRangeError(ImageLoadError, IndexError):
    """A frame index outside the file's frames (an ``IndexError`` too, as callers expect)."""


class ImageTooLargeError(CorruptImageError):
    """The image declares a size no radiograph has, or needs more memory than decoding may use.

    Refused before decoding where the declared size can be read (header, codestream markers,
    picture header), so that a few kilobytes never claim gigabytes.
    """

    @classmethod
    def declared(
        cls, path: Path | str, rows: int, cols: int, details: str = ""
    ) -> ImageTooLargeError:
        """The error for an image refused for the size it declares."""
        return cls(path, f"image too large: {cols} x {rows} declared", details)


class NonFiniteValueError(CorruptImageError):
    """A value the analysis depends on is NaN or infinite (pixels, model input, probability).

    A NaN compares false with every threshold, so left alone it would read as "no fracture".
    """


class DecoderCrashError(ImageLoadError):
    """The guarded decoder process died while reading the file (a native decoder aborted)."""


class DecodeTimeoutError(ImageLoadError):
    """Reading the file took longer than the guard allows; the decoder process was stopped."""


class ModelError(FractureDesktopError):
    """Base class of model loading problems."""


class ModelUnavailableError(ModelError):
    """No usable model: weights or card missing, or torch not installed."""


class ModelIntegrityError(ModelError):
    """The weights on disk do not match the sha256 recorded in the model card."""
