"""Analysis > Validate this folder: ``fracture-desktop validate`` run on the open folder.

The viewer runs the command itself, in a child process watched from a worker thread: the
validation is the command's, metrics and threshold rule included (docs/REPORTS.md), and the
viewer's process imports neither the training package nor its metrics libraries for it. The
result is read from a JSON file in a temporary folder, never written among the images.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fracture_desktop.core.errors import FractureDesktopError
from fracture_desktop.core.jobs import Cancelled, CancelToken

#: How often the worker looks at the cancel token while the command runs (seconds).
POLL_SECONDS = 0.2


class ValidationFailed(FractureDesktopError):
    """The validation command stopped without a result (its message is the reason)."""


def validate_command(
    folder: Path, json_path: Path, model_dir: Path, device: str, labels: Path | None = None
) -> list[str]:
    """The ``validate`` command line for ``folder``, with this model and device; a frozen
    build is its own command, a source install runs the package's ``__main__``."""
    if getattr(sys, "frozen", False):
        base = [sys.executable]
    else:
        base = [sys.executable, "-m", "fracture_desktop"]
    command = [*base, "validate", str(folder), "--json", str(json_path)]
    command += ["--model", str(model_dir), "--device", device]
    return command + (["--labels", str(labels)] if labels is not None else [])


def run_validation(
    folder: Path,
    model_dir: Path,
    device: str,
    labels: Path | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Validate the model in ``model_dir`` on the labelled images of ``folder``.

    Returns
    -------
    dict
        The validation report, as ``validate --json`` writes it.

    Raises
    ------
    ValidationFailed
        The command failed (too few labelled images, no model, ...): its last line says why.
    Cancelled
        ``cancel`` was set; the child process is killed.
    """
    cancel = cancel or CancelToken()
    scratch = Path(tempfile.mkdtemp(prefix="fracture-desktop-validate-"))
    json_path = scratch / "validation.json"
    command = validate_command(folder, json_path, model_dir, device, labels)
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as process:
            while True:
                try:
                    out, err = process.communicate(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if cancel.cancelled:
                        process.kill()
                        process.communicate()
                        raise Cancelled from None
        if process.returncode != 0 or not json_path.is_file():
            # The command's own message ("fracture-desktop validate: error: ..."), else the
            # last thing it said.
            lines = [line.strip() for line in err.splitlines() if line.strip()]
            errors = [line.split(": error: ", 1)[1] for line in lines if ": error: " in line]
            said = errors or lines or [f"validate exited with {process.returncode}"]
            reason = said[-1] if not errors else errors[0]
            raise ValidationFailed(f"Validation failed: {reason}", f"{err}\n{out}".strip())
        report: dict[str, Any] = json.loads(json_path.read_text(encoding="utf-8"))
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
