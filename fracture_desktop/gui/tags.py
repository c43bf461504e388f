"""DICOM header as flat rows for the tag browser (sequences indented under their item)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fracture_desktop.core.errors import ImageLoadError
from fracture_desktop.core.imaging.guard import default_guard
from fracture_desktop.core.imaging.records import ImageRecord, SourceKind

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: Longer values are cut: the browser is for reading, not for dumping binary data.
MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class TagRow:
    """One element: ``depth`` is its nesting level inside sequences."""

    tag: str
    keyword: str
    vr: str
    value: str
    depth: int = 0


def read_tags(record: ImageRecord) -> tuple[TagRow, ...]:
    """The header of a DICOM record (empty for plain pictures or unreadable headers).

    Read in a guarded worker process, as pixels are: a header can be crafted to exhaust
    its parser (a deflated dataset that inflates to gigabytes, sequences nested thousands
    deep), and the viewer must survive it.
    """
    if record.kind is not SourceKind.DICOM:
        return ()
    try:
        return default_guard().call(header_rows, record.path)
    except ImageLoadError:
        return ()


def header_rows(path: Path) -> tuple[TagRow, ...]:
    """Every element of the header at ``path``, file meta first, as rows.

    Raises
    ------
    ImageLoadError
        The header cannot be read.
    """
    # Imported here, in the worker that runs this: the viewer's process need not load pydicom.
    from fracture_desktop.core.imaging.dicom import read_dataset

    ds = read_dataset(path, header_only=True)
    rows: list[TagRow] = []
    try:
        _flatten(ds.file_meta, 0, rows)
        _flatten(ds, 0, rows)
    except Exception as exc:
        # Elements are converted when first read: a damaged one (unknown VR, bad length)
        # raises here. The rows before it are still worth showing.
        rows.append(TagRow("", "", "", f"the rest of the header is damaged ({exc})"))
    return tuple(rows)


def _flatten(ds: Dataset, depth: int, rows: list[TagRow]) -> None:
    for element in ds:
        tag = f"({element.tag.group:04X},{element.tag.element:04X})"
        if element.VR == "SQ":
            rows.append(TagRow(tag, element.keyword, "SQ", f"{len(element.value)} item(s)", depth))
            for item in element.value:
                _flatten(item, depth + 1, rows)
            continue
        if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
            value = f"<{element.VR} data>"
        else:
            value = str(element.value)
        if len(value) > MAX_VALUE_CHARS:
            value = value[:MAX_VALUE_CHARS] + "..."
        rows.append(TagRow(tag, element.keyword, str(element.VR), value, depth))
