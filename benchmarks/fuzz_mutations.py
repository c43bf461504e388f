"""The mutants of the fuzzer (:mod:`benchmarks.fuzz`): real DICOM files, seeded edits.

Bit flips, bytes and lengths set to edge values, truncations, spliced chunks, and header
attributes rewritten with pydicom (sizes, transfer syntax, rescale, windows, LUTs). The same
seed gives the same mutants, byte for byte.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

#: Seeds larger than this are skipped: they slow every batch without adding new parsers.
MAX_SEED_BYTES = 2 << 20
_SYNTAXES = (
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
)
_EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
_EDGE_WORDS = (0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFF0, 0xFFFFFFFF)
_EDGE_NUMBERS = ("0", "-1", "1e-45", "1e308", "nan", "inf", "-inf", "65535", "2147483648")


def _spot(rng: random.Random, data: bytes | bytearray) -> int:
    """An offset, half the time inside the first 2 KiB where the header lives."""
    limit = min(len(data), 2048) if rng.random() < 0.5 else len(data)
    return rng.randrange(max(1, limit))


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    """One to 16 bits flipped."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        at = _spot(rng, out)
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def set_bytes(rng: random.Random, data: bytes) -> bytes:
    """One to 8 bytes set to an edge value (0, 1, 0x7F, 0x80, 0xFE, 0xFF)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[_spot(rng, out)] = rng.choice(_EDGE_BYTES)
    return bytes(out)


def set_length(rng: random.Random, data: bytes) -> bytes:
    """An edge value written over 2 or 4 bytes: often a length, a VR or a tag."""
    out = bytearray(data)
    at = _spot(rng, out)
    word = rng.choice(_EDGE_WORDS)
    packed = struct.pack("<I", word) if rng.random() < 0.6 else struct.pack("<H", word & 0xFFFF)
    out[at : at + len(packed)] = packed
    return bytes(out[: len(data)])


def truncate(rng: random.Random, data: bytes) -> bytes:
    """The file cut short at a random length (at least one byte kept)."""
    return data[: rng.randrange(1, max(2, len(data)))]


def splice(rng: random.Random, data: bytes) -> bytes:
    """Repeat or drop a chunk: shifted elements, repeated items, lost delimiters."""
    a = _spot(rng, data)
    b = min(len(data), a + rng.randint(1, 512))
    if rng.random() < 0.5:
        return data[:b] + data[a:b] + data[b:]
    return data[:a] + data[b:]


def _edit_dataset(rng: random.Random, ds: Dataset) -> None:
    """One or more header attributes set to hostile values."""
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(10)
        if choice == 0:
            ds.Rows = rng.choice((0, 1, ds.get("Rows", 1) + 1, 65535))
        elif choice == 1:
            ds.Columns = rng.choice((0, 1, ds.get("Columns", 1) + 1, 65535))
        elif choice == 2:
            ds.BitsAllocated = rng.choice((0, 1, 7, 12, 32, 64))
        elif choice == 3:
            ds.SamplesPerPixel = rng.choice((0, 2, 3, 4))
        elif choice == 4:
            ds.NumberOfFrames = rng.choice(("0", "-1", "1000000", "1A"))
        elif choice == 5:
            ds.PhotometricInterpretation = rng.choice(
                ("MONOCHROME1", "RGB", "PALETTE COLOR", "YBR_FULL_422", "XYZ")
            )
        elif choice == 6:
            ds.file_meta.TransferSyntaxUID = rng.choice(_SYNTAXES)
        elif choice == 7:
            ds.RescaleSlope = rng.choice(_EDGE_NUMBERS)
            ds.RescaleIntercept = rng.choice(_EDGE_NUMBERS)
        elif choice == 8:
            ds.WindowCenter = rng.choice(_EDGE_NUMBERS)
            ds.WindowWidth = rng.choice(_EDGE_NUMBERS)
            ds.VOILUTFunction = rng.choice(("LINEAR", "LINEAR_EXACT", "SIGMOID", "BOGUS"))
        else:
            item = Dataset()
            item.LUTDescriptor = [rng.choice((0, 1, 4, 65535)), rng.choice((0, -1, 100)), 0]
            item.LUTData = bytes(rng.choice((0, 8)))
            ds.VOILUTSequence = [item]


def edit_attributes(rng: random.Random, data: bytes) -> bytes:
    """The file read with pydicom, header attributes edited (:func:`_edit_dataset`), saved."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the values are invalid on purpose
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            _edit_dataset(rng, ds)
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=False)
        return out.getvalue()
    except Exception:  # a seed pydicom cannot round-trip: fall back to a byte mutation
        return flip_bits(rng, data)


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip": flip_bits,
    "bytes": set_bytes,
    "length": set_length,
    "cut": truncate,
    "splice": splice,
    "attrs": edit_attributes,
}


def seed_files(data: Path) -> list[Path]:
    """DICOM files of the corpus small enough to mutate quickly, in a stable order."""
    found = []
    for path in sorted(data.rglob("*")):
        if not path.is_file() or path.suffix in (".tsv", ".md", ".txt", ".json", ".gz"):
            continue
        if path.stat().st_size > MAX_SEED_BYTES:
            continue
        with open(path, "rb") as f:
            head = f.read(132)
        if head[128:132] == b"DICM" or path.suffix == ".dcm":
            found.append(path)
    return found


def mutants(seeds: list[Path], count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` named mutants; the same ``seed`` gives the same bytes."""
    rng = random.Random(seed)
    cache: dict[Path, bytes] = {}
    names = sorted(MUTATIONS)
    for index in range(count):
        source = rng.randrange(len(seeds))
        path = seeds[source]
        if path not in cache:
            cache[path] = path.read_bytes()
        kind = rng.choice(names)
        yield f"m{index:05d}_{kind}_s{source:03d}", MUTATIONS[kind](rng, cache[path])
