"""Start a throw-away Orthanc (Debian package ``orthanc``) for tests and benchmarks.

Configured from ``orthanc.json`` beside this file, on free localhost ports, storing in a
temporary folder; driven through its REST API with the standard library.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).with_name("orthanc.json")


def free_port() -> int:
    """A TCP port free on localhost now (the OS's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orthanc_binary() -> str | None:
    """The Orthanc executable, or None where it is not installed."""
    return shutil.which("Orthanc")


class Orthanc:
    """An Orthanc server in a subprocess, stopped by :meth:`stop`.

    Parameters
    ----------
    folder : Path
        Made for its storage and index, its configuration file and its log.
    """

    def __init__(self, folder: Path) -> None:
        binary = orthanc_binary()
        if binary is None:
            raise RuntimeError("Orthanc is not installed (Debian package orthanc)")
        self.http_port, self.dicom_port = free_port(), free_port()
        config = json.loads(CONFIG.read_text())
        config.update(
            HttpPort=self.http_port,
            DicomPort=self.dicom_port,
            StorageDirectory=str(folder / "storage"),
            IndexDirectory=str(folder / "storage"),
        )
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        self.log = folder / "orthanc.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [binary, str(path)], stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready(60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {self.log.read_text(errors='replace')}")
            try:
                self.get("/system")
                return
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def request(self, method: str, path: str, body: bytes | None = None) -> Any:
        """``method path`` with ``body``; the decoded JSON answer (bytes when not JSON)."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
        with urllib.request.urlopen(req, timeout=120) as answer:
            data = answer.read()
            if answer.headers.get_content_type() == "application/json":
                return json.loads(data)
            return data

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: bytes | dict[str, Any] | list[Any]) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", path, data)

    def upload(self, path: Path) -> dict[str, Any]:
        """Store a DICOM file through REST; Orthanc's answer (its ``ID``, ``ParentStudy``)."""
        answer: dict[str, Any] = self.post("/instances", path.read_bytes())
        return answer

    def add_modality(self, name: str, ae_title: str, port: int) -> None:
        """Let Orthanc send to the DICOM node ``ae_title`` on localhost ``port``."""
        body = {"AET": ae_title, "Host": "127.0.0.1", "Port": port}
        self.request("PUT", f"/modalities/{name}", json.dumps(body).encode())

    def stop(self) -> None:
        """Stop the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
