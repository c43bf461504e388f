"""A stable identity for each image: the key of reader decisions and kept results.

The SOP Instance UID for DICOM, else the digest of the file's bytes; digests are remembered
while a file's size and modification time stay the same, so that each file is hashed once.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.imaging.records import ImageRecord, SourceKind

#: Content digests remembered by :func:`image_identity`, oldest forgotten first.
DIGEST_MEMORY = 16384
_DIGESTS: OrderedDict[tuple[str, int, int], str] = OrderedDict()
_DIGEST_LOCK = threading.Lock()


def image_identity(record: ImageRecord) -> str:
    """A stable key for reader decisions about an image.

    The SOP Instance UID for DICOM (PS3.3 C.12.1.1.1: unique worldwide, survives copies and
    renames), else ``"sha256:"`` and the digest of the file's bytes. A file's digest is
    computed once while its size and modification time stay the same (thumbnails, analysis
    and reports all ask).

    Raises
    ------
    OSError
        The file cannot be read.
    """
    if record.kind is SourceKind.DICOM and record.sop_instance_uid:
        return record.sop_instance_uid
    stat = os.stat(record.path)
    key = (str(record.path), stat.st_size, stat.st_mtime_ns)
    with _DIGEST_LOCK:
        known = _DIGESTS.get(key)
    if known is not None:
        return known
    identity = "sha256:" + file_sha256(record.path)
    with _DIGEST_LOCK:
        _DIGESTS[key] = identity
        while len(_DIGESTS) > DIGEST_MEMORY:
            _DIGESTS.popitem(last=False)
    return identity
