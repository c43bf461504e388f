"""Storage SCP: receive radiographs, store each instance whole, hand over finished studies.

Built on pynetdicom (PS3.4 Annex B, Storage Service Class; PS3.7 9.1.1 C-STORE; PS3.8
association negotiation). What it accepts and refuses, and with which status:

- presentation contexts for radiograph SOP classes only (:data:`RADIOGRAPH_SOP_CLASSES`);
  any other abstract syntax is rejected at negotiation ("abstract syntax not supported");
- when ``allowed`` is given, associations from other calling AE titles are rejected
  ("calling AE title not recognised"); associations must call our AE title;
- an instance larger than ``max_bytes`` gets 0xA700 (Refused: out of resources), one whose
  SOP class differs from its context 0xA900 (dataset does not match SOP class), one that
  cannot be decoded or lacks valid UIDs 0xC210 (cannot understand);
- a peer that drops mid-transfer loses only the instance in flight: pynetdicom hands over
  complete datasets only, and each file is written atomically (``core/atomic.py``).

Instances go to ``incoming/<Study Instance UID>/<SOP Instance UID>.dcm``; the UIDs are
checked (digits and dots only) before they name a file. When an association ends, by
release, abort or a dropped connection, the studies it brought are handed to ``on_studies``
(from pynetdicom's thread: the callback must only queue them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, evt
from pynetdicom.transport import ThreadedAssociationServer

from fracture_desktop.core.atomic import atomic_write
from fracture_desktop.core.dicom_out.sources import is_uid

log = logging.getLogger("fracture_desktop.node")

#: The radiograph storage SOP classes accepted (PS3.4 B.5).
RADIOGRAPH_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
}
#: Transfer syntaxes accepted: those the app decodes (docs/REPORTS.md, "Conformance").
TRANSFER_SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
]
#: C-STORE statuses (PS3.4 B.2.3).
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DATASET_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC210
#: Default largest instance accepted: a large radiograph is 50-100 MB uncompressed.
MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class NodeConfig:
    """Where and how the node listens.

    Attributes
    ----------
    ae_title : str
        Our AE title; associations must call it.
    port : int
        TCP port.
    incoming : Path
        Where received instances are stored, one folder per study.
    host : str
        Address to bind; 127.0.0.1 unless the site says otherwise.
    allowed : tuple of str
        Calling AE titles accepted; empty accepts any.
    max_bytes : int
        Largest encoded instance accepted.
    """

    ae_title: str
    port: int
    incoming: Path
    host: str = "127.0.0.1"
    allowed: tuple[str, ...] = ()
    max_bytes: int = MAX_BYTES


def _peer(event: Any) -> str:
    requestor = event.assoc.requestor
    return f"{requestor.ae_title}@{requestor.address}:{requestor.port}"


class StudyReceiver:
    """The storage SCP of :class:`NodeConfig`; see the module's docstring.

    Parameters
    ----------
    config : NodeConfig
        Where to listen and store.
    on_studies : callable
        ``on_studies(study_uids)`` when an association that stored instances ends.
    """

    def __init__(self, config: NodeConfig, on_studies: Callable[[list[str]], None]) -> None:
        self.config = config
        self._on_studies = on_studies
        self._lock = threading.Lock()
        self._studies: dict[int, set[str]] = {}
        self._stored: dict[int, int] = {}
        self._server: ThreadedAssociationServer | None = None
        ae = AE(ae_title=config.ae_title)
        for uid in RADIOGRAPH_SOP_CLASSES:
            ae.add_supported_context(uid, TRANSFER_SYNTAXES)
        if config.allowed:
            ae.require_calling_aet = list(config.allowed)
        ae.require_called_aet = True
        self.ae = ae

    def start(self) -> None:
        """Listen in pynetdicom's threads; returns at once."""
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._store),
            (evt.EVT_ACCEPTED, self._accepted),
            (evt.EVT_REJECTED, self._rejected),
            (evt.EVT_RELEASED, self._ended, ["released"]),
            (evt.EVT_ABORTED, self._ended, ["aborted"]),
            (evt.EVT_CONN_CLOSE, self._closed),
        ]
        address = (self.config.host, self.config.port)
        self._server = self.ae.start_server(address, block=False, evt_handlers=handlers)

    def stop(self) -> None:
        """Stop listening; associations in progress are closed."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    # -- event handlers (pynetdicom's threads) ---------------------------------------------

    def _accepted(self, event: Any) -> None:
        log.info("association from %s accepted", _peer(event))

    def _rejected(self, event: Any) -> None:
        log.warning("association from %s rejected", _peer(event))

    def _ended(self, event: Any, how: str) -> None:
        log.info("association from %s %s", _peer(event), how)

    def _closed(self, event: Any) -> None:
        """The connection is gone (released, aborted or dropped): hand over its studies."""
        key = id(event.assoc)
        with self._lock:
            studies = self._studies.pop(key, set())
            stored = self._stored.pop(key, 0)
        if studies:
            log.info(
                "connection from %s closed: %d instances of %d studies to triage",
                _peer(event),
                stored,
                len(studies),
            )
            self._on_studies(sorted(studies))

    def _store(self, event: Any) -> int:
        """C-STORE: check the instance, write it atomically, remember its study."""
        size = len(event.request.DataSet.getvalue())
        if size > self.config.max_bytes:
            log.warning("refused %d bytes from %s: too large", size, _peer(event))
            return OUT_OF_RESOURCES
        try:
            ds = event.dataset
            sop_class, study, sop = ds.SOPClassUID, ds.StudyInstanceUID, ds.SOPInstanceUID
        except Exception as exc:  # anything the decoder meets in a hostile dataset
            log.warning("refused an undecodable instance from %s: %r", _peer(event), exc)
            return CANNOT_UNDERSTAND
        if str(sop_class) != event.context.abstract_syntax:
            return DATASET_MISMATCH
        if not (is_uid(study) and is_uid(sop)):
            log.warning("refused an instance with malformed UIDs from %s", _peer(event))
            return CANNOT_UNDERSTAND
        folder = self.config.incoming / str(study)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(folder / f"{sop}.dcm", overwrite=True) as f:
                f.write(event.encoded_dataset(include_meta=True))
        except OSError as exc:
            log.error("cannot store %s: %s", sop, exc)
            return OUT_OF_RESOURCES
        key = id(event.assoc)
        with self._lock:
            self._studies.setdefault(key, set()).add(str(study))
            self._stored[key] = self._stored.get(key, 0) + 1
        return SUCCESS
