"""DICOM results on a folder nobody wrote for us: every analysed image referenced, dciodvfy clean.

Runs ``fracture-desktop scan FOLDER --csv --dicom-out --secondary-capture`` in a subprocess
with a copy of the model that flags every image it analyses (thresholds at the smallest the
card check accepts, no domain check), so that each gets its SR reference, a KOS entry, a
GSPS and a Secondary Capture; then checks what issue 32 asks (docs/REPORTS.md,
"Conformance"):

- every image the CSV says was analysed and is DICOM (:func:`is_dicom`) is
  referenced by an SR (an IMAGE item or the evidence of one), its SOP Instance UID matched,
  or the scan's summary says why not (``not referenced: PATH: REASON``);
- no object references an image that was not analysed;
- ``dciodvfy`` (Debian ``dicom3tools``) on every object written: errors and warnings, counted
  by message.

The data store and site profiles go to the temporary folder: the user's own are not touched.

Run: ``python -m benchmarks.dicom_conformance FOLDER [--model DIR] [--keep DIR] [--deidentify]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from fracture_desktop.core.inference.card import default_model_dir

ROOT = Path(__file__).resolve().parents[1]
SR_CLASSES = ("1.2.840.10008.5.1.4.1.1.88.33",)
NOT_REFERENCED = "  not referenced: "
#: A dciodvfy message with the values that differ between files (tags' values, indices)
#: taken out, so that one kind of problem counts once.
_VALUES = re.compile(r"<[^<>]*>|\[\d+\]|\d+")


def flagging_model(source: Path, folder: Path) -> Path:
    """A copy of the model at ``source`` that flags every image it analyses: thresholds at
    the smallest the card check accepts, no domain check (which would call most of a test
    collection "outside domain", unflagged), and an id of its own (a shipped id must keep
    its domain check)."""
    card = json.loads((source / "model_card.json").read_text())
    card["id"] = f"{card['id']}-flags-all"
    card.pop("domain", None)
    for name in ("fracture", "doubt"):
        card["thresholds"][name]["value"] = 1e-9
    target = folder / card["id"]
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("domain.npz"))
    (target / "model_card.json").write_text(json.dumps(card, indent=2))
    return target


def _items(ds: Dataset) -> Iterator[Dataset]:
    """Every item of every sequence in ``ds``, depth first."""
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                yield item
                yield from _items(item)


def referenced_uids(ds: Dataset) -> set[str]:
    """Every Referenced SOP Instance UID anywhere in ``ds`` (content tree, evidence, GSPS
    references, Source Image Sequence)."""
    return {
        str(item.ReferencedSOPInstanceUID)
        for item in _items(ds)
        if "ReferencedSOPInstanceUID" in item
    }


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """dciodvfy's error and warning lines for ``path``; a run that does not end in two
    minutes counts as an error (seen once on a loaded machine), not as the end of the check."""
    try:
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return ["Error - dciodvfy did not finish in 120 s"], []
    # dciodvfy quotes values in the file's own bytes (a name in Cyrillic, say).
    text = (run.stdout + run.stderr).decode("utf-8", errors="replace")
    lines = text.splitlines()
    return [x for x in lines if x.startswith("Error")], [x for x in lines if x.startswith("Warn")]


def kind_of(message: str) -> str:
    """``message`` without its values, for counting."""
    return _VALUES.sub("#", message)


def is_dicom(row: dict[str, str]) -> bool:
    """Whether a CSV row is a DICOM file: its identity is a SOP Instance UID, or (a header
    without one is identified by its hash) the file parses with DICOM's identifiers."""
    if not row["image_identity"].startswith("sha256:"):
        return True
    try:
        ds = pydicom.dcmread(row["file_path"], stop_before_pixels=True, force=True)
    except Exception:  # a picture's bytes parse as anything or nothing
        return False
    return "SOPClassUID" in ds or "StudyInstanceUID" in ds


def stated_reasons(summary: str) -> dict[str, str]:
    """File path -> the reason the scan's summary gives for not referencing it (its
    ``not referenced: PATH: REASON (DETAILS)`` lines), details left out."""
    said = {}
    for line in summary.splitlines():
        if line.startswith(NOT_REFERENCED):
            path, _, reason = line[len(NOT_REFERENCED) :].partition(": ")
            said[path] = reason.split(" (")[0]
    return said


def scan(folder: Path, model: Path, work: Path, deidentify: bool) -> tuple[Path, Path, str]:
    """Run ``scan --dicom-out``; its CSV, its DICOM folder and its summary (stdout)."""
    out, report = work / "dicom", work / "scan.csv"
    out.mkdir()
    argv = [sys.executable, "-m", "fracture_desktop", "scan", str(folder), "--model", str(model)]
    argv += ["--device", "cpu", "--threads", "1", "--csv", str(report), "--dicom-out", str(out)]
    argv += ["--secondary-capture", *(["--deidentify"] if deidentify else [])]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "FRACTURE_DESKTOP_DATA_DIR": str(work / "data"),
        "FRACTURE_DESKTOP_PROFILE_DIR": str(work / "profiles"),
    }
    run = subprocess.run(argv, capture_output=True, text=True, env=env)
    (work / "summary.txt").write_text(run.stdout)
    if not report.exists():
        raise SystemExit(f"scan failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return report, out, run.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of DICOM files to scan")
    parser.add_argument("--model", type=Path, help="model folder (default: the shipped one)")
    parser.add_argument("--keep", type=Path, help="work here (CSV, objects) and keep it")
    parser.add_argument("--deidentify", action="store_true", help="scan with --deidentify")
    args = parser.parse_args(argv)
    if shutil.which("dciodvfy") is None:
        raise SystemExit("dciodvfy (Debian package dicom3tools) is not installed")
    with tempfile.TemporaryDirectory(prefix="fd-conformance-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        model = flagging_model(args.model or default_model_dir(), work)
        report, out, summary = scan(args.folder.resolve(), model, work, args.deidentify)
        return check(report, out, summary)


def check(report: Path, out: Path, summary: str) -> int:
    """Print the counts; 0 when every analysed DICOM image is referenced by an SR, nothing
    references an image not analysed, and dciodvfy finds no error."""
    with report.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    analysed = [r for r in rows if r["flag"] != "not analysed"]
    dicom = [r for r in analysed if is_dicom(r)]
    not_analysed = Counter(r["error"] for r in rows if r["flag"] == "not analysed")
    in_sr: set[str] = set()
    anywhere: set[str] = set()
    kinds: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    example: dict[str, str] = {}  # the first message of each kind, values included
    failing = []
    for path in sorted(out.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        kinds[path.name.split("_")[0]] += 1
        uids = referenced_uids(ds)
        anywhere |= uids
        if str(ds.SOPClassUID) in SR_CLASSES:
            in_sr |= uids
        found, warned = dciodvfy(path)
        errors.update(kind_of(x) for x in found)
        warnings.update(kind_of(x) for x in set(warned))
        for line in found + warned:
            example.setdefault(kind_of(line), line)
        if found:
            failing.append((path, found))
    missing = [r for r in dicom if r["sop_instance_uid"] not in in_sr]
    analysed_uids = {r["sop_instance_uid"] for r in dicom}
    stray = {r["sop_instance_uid"] for r in rows if r["flag"] == "not analysed"}
    stray = (stray - analysed_uids) & anywhere
    print("scan summary, DICOM lines:")
    print("\n".join(x for x in summary.splitlines() if x.startswith(("DICOM", "  not referenced"))))
    print(f"\nentries in the CSV {len(rows)}; not analysed {len(rows) - len(analysed)}:")
    for reason, n in not_analysed.most_common():
        print(f"  {n:4d}  {reason}")
    print(f"analysed {len(analysed)}, of which DICOM {len(dicom)}")
    print(f"analysed DICOM images referenced by an SR: {len(dicom) - len(missing)} of {len(dicom)}")
    said = stated_reasons(summary)
    unexplained = [r["file_path"] for r in missing if r["file_path"] not in said]
    stated = Counter(said[r["file_path"]] for r in missing if r["file_path"] in said)
    for reason, n in stated.most_common():
        print(f"  {n:4d}  not in an SR, the summary says why: {reason}")
    print(f"analysed DICOM images in no SR and no reason given: {len(unexplained)}")
    for path in unexplained:
        print(f"  {path}")
    print(f"objects referencing an image not analysed: {len(stray)}")
    print(f"objects written {sum(kinds.values())}: {dict(sorted(kinds.items()))}")
    print(f"objects with dciodvfy errors: {len(failing)}")
    for path, found in failing:
        print(f"  {path.relative_to(out)}")
        for line in found:
            print(f"    {line}")
    print("dciodvfy errors by kind (one example each):")
    for message, n in errors.most_common():
        print(f"  {n:4d}  {example[message]}")
    print("dciodvfy warnings by kind (objects; one example each):")
    for message, n in warnings.most_common():
        print(f"  {n:4d}  {example[message]}")
    return 0 if not unexplained and not stray and not failing else 1


if __name__ == "__main__":
    raise SystemExit(main())
