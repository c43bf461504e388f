"""Transfer syntaxes: which one a file uses, and their names for messages (PS3.5 10, PS3.6 A-1)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLETransferSyntaxes,
)

# pydicom 3.0.2 predates these UIDs (PS3.6 Table A-1), so it cannot name them.
_UID_NAMES = {
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
    "1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression",
}


def transfer_syntax_name(uid: str) -> str:
    """Human name of a transfer syntax UID (PS3.6 Table A-1), or the UID itself."""
    return _UID_NAMES.get(uid) or UID(uid).name


def codec_name(uid: str) -> str:
    """Short name of the compression behind a transfer syntax, for messages."""
    if uid in JPEG2000TransferSyntaxes or uid.startswith("1.2.840.10008.1.2.4.20"):
        return "JPEG 2000"
    if uid in JPEGLSTransferSyntaxes:
        return "JPEG-LS"
    if uid in JPEGTransferSyntaxes:
        return "JPEG"
    if uid in RLETransferSyntaxes:
        return "RLE"
    return "pixel"


def transfer_syntax_of(ds: Dataset) -> str:
    """The file's transfer syntax; for files without meta, the encoding pydicom detected."""
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts:
        return str(ts)
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return ""
    if implicit:
        return str(ImplicitVRLittleEndian)
    return str(ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
