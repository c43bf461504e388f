"""The image size a compressed frame declares, read from its first bytes without decoding.

A decoder allocates what the codestream declares, not what the DICOM header says: a 3 KB
JPEG whose frame header claims 65500 x 65500 makes it reserve gigabytes. Comparing the two
sizes first costs a few bytes of parsing.

Markers read:

- JPEG (ISO/IEC 10918-1 B.2.2) and JPEG-LS (ISO/IEC 14495-1 C.2.2): the Start Of Frame
  segment (SOF0-SOF15 except DHT/JPG/DAC, and SOF55 = FFF7 for JPEG-LS) holds the sample
  precision, then the number of lines Y and of samples per line X, 16 bits each.
- JPEG 2000 (ISO/IEC 15444-1 A.5.1): the SIZ segment right after SOC holds the reference
  grid size Xsiz, Ysiz and the image offset XOsiz, YOsiz, 32 bits each; the image is
  (Xsiz - XOsiz) x (Ysiz - YOsiz). HTJ2K (15444-15) uses the same SIZ segment.
"""

from __future__ import annotations

import struct

_JPEG_SOI = b"\xff\xd8"
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
# Start Of Frame markers: C0-CF except C4 (DHT), C8 (JPG) and CC (DAC); F7 is JPEG-LS SOF55.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
# Markers without a length field: TEM, RST0-7, SOI, EOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_START_OF_SCAN = 0xDA
#: JP2 boxes before the codestream are short; the SIZ marker is searched this far only.
_J2K_SEARCH = 4096


def declared_shape(codestream: bytes) -> tuple[int, int] | None:
    """(rows, columns) a JPEG, JPEG-LS or JPEG 2000 codestream declares, or None.

    None means the size could not be read here (another codec, no frame header before the
    scan data, or a height of 0 that a later DNL marker defines): the caller then relies on
    the DICOM header alone.
    """
    if codestream.startswith(_JPEG_SOI):
        return _jpeg_shape(codestream)
    at = codestream.find(_J2K_SOC_SIZ, 0, _J2K_SEARCH)
    if at >= 0:
        return _j2k_shape(codestream, at + 2)
    return None


def _jpeg_shape(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # not at a marker: damaged, let the decoder say so
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte (B.1.1.2)
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == _START_OF_SCAN:
            return None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker in _SOF:
            if pos + 9 > len(data):
                return None
            rows, cols = struct.unpack_from(">HH", data, pos + 5)
            return (rows, cols) if rows and cols else None
        pos += 2 + length
    return None


def _j2k_shape(data: bytes, siz: int) -> tuple[int, int] | None:
    # SIZ: marker (2), Lsiz (2), Rsiz (2), Xsiz, Ysiz, XOsiz, YOsiz (4 each).
    if siz + 22 > len(data):
        return None
    x, y, x0, y0 = struct.unpack_from(">IIII", data, siz + 6)
    rows, cols = y - y0, x - x0
    return (rows, cols) if rows > 0 and cols > 0 else None
