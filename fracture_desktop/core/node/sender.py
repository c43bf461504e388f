"""C-STORE SCU: send our DICOM results back to a PACS (PS3.4 B, PS3.7 9.1.1)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE

log = logging.getLogger("fracture_desktop.node")

#: What we send: Comprehensive SR, Key Object Selection, Grayscale Softcopy PS (PS3.4 B.5).
RESULT_SOP_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.88.33",
    "1.2.840.10008.5.1.4.1.1.88.59",
    "1.2.840.10008.5.1.4.1.1.11.1",
)
_DESTINATION = re.compile(r"(?P<ae>[^@]{1,16})@(?P<host>[^:]+):(?P<port>\d{1,5})")


@dataclass(frozen=True)
class Destination:
    """A remote storage SCP: ``AE@HOST:PORT``."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        """Read ``AE@HOST:PORT``.

        Raises
        ------
        ValueError
            ``text`` is not of that form.
        """
        match = _DESTINATION.fullmatch(text.strip())
        if match is None or not 0 < int(match["port"]) < 65536:
            raise ValueError(f"{text!r} is not AE@HOST:PORT")
        return cls(match["ae"], match["host"], int(match["port"]))

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def send(paths: Sequence[Path], destination: Destination, calling_ae: str) -> dict[Path, int]:
    """C-STORE each file in ``paths`` to ``destination`` over one association.

    Returns
    -------
    dict of Path to int
        The status the destination answered per file; -1 when no association could be made
        or it ended before the file was sent.
    """
    statuses = dict.fromkeys(paths, -1)
    if not paths:
        return statuses
    ae = AE(ae_title=calling_ae)
    for uid in RESULT_SOP_CLASSES:
        ae.add_requested_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        log.error("cannot associate with %s", destination)
        return statuses
    try:
        for path in paths:
            if not assoc.is_established:
                break
            status = assoc.send_c_store(pydicom.dcmread(path))
            statuses[path] = int(status.Status) if "Status" in status else -1
    finally:
        if assoc.is_established:
            assoc.release()
    sent = sum(s == 0 for s in statuses.values())
    log.info("sent %d of %d results to %s", sent, len(paths), destination)
    return statuses
