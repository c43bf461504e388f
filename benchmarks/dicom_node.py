"""A 100-instance push to ``fracture-desktop listen``: nothing lost, memory flat.

Makes ``--instances`` copies of the sample radiographs (resources/samples/dicom), each with
a new SOP Instance UID, ``--per-study`` to a study, and pushes them with a pynetdicom SCU,
one association per study, to a real ``listen`` node in a subprocess (the shipped model
unless ``--model``). It then waits for every study's SR and checks that each instance sent
was stored and is referenced by an SR. The node's process tree's resident memory (the node
and its guarded decoders, from /proc) is sampled throughout: "flat" means the last study
ends near where the first one did.

Run: ``python -m benchmarks.dicom_node [--instances 100] [--per-study 10] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid
from pynetdicom import AE

from benchmarks.process_tree import tree_rss
from fracture_desktop.core.inference.devices import DEVICES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples" / "dicom"
_STUDY_DONE = re.compile(r"study (\S+): .* result files")
MB = 1024 * 1024


def make_instances(folder: Path, count: int, per_study: int) -> list[Path]:
    """``count`` copies of the sample radiographs, new UIDs, ``per_study`` to a study.

    The hand sample is left out: its encapsulated pixel data has an odd length, which
    pydicom pads when it writes the copy, and the padded codestream no longer decodes.
    """
    sources = [pydicom.dcmread(p) for p in sorted(SAMPLES.glob("*.dcm"))]
    sources = [ds for ds in sources if len(ds.PixelData) % 2 == 0]
    paths = []
    study = series = ""
    for n in range(count):
        if n % per_study == 0:
            study, series = generate_uid(), generate_uid()
        ds = sources[n % len(sources)]
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = n + 1
        path = folder / f"{n:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def push(paths: list[Path], port: int, per_study: int) -> dict[str, int]:
    """C-STORE ``paths``, one association per study; the status per SOP Instance UID."""
    ae = AE(ae_title="BENCH")
    syntaxes = {str(pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID)
                for p in paths}  # fmt: skip
    for syntax in sorted(syntaxes):
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.1", syntax)
    statuses: dict[str, int] = {}
    for start in range(0, len(paths), per_study):
        assoc = ae.associate("127.0.0.1", port, ae_title="FRACTURE")
        assert assoc.is_established, "the node refused the association"
        for path in paths[start : start + per_study]:
            ds = pydicom.dcmread(path)
            status = assoc.send_c_store(ds)
            statuses[str(ds.SOPInstanceUID)] = int(status.Status) if "Status" in status else -1
        assoc.release()
    return statuses


def referenced(results: Path) -> set[str]:
    """SOP Instance UIDs referenced by the SRs under ``results``."""
    found = set()
    for path in results.rglob("SR_*.dcm"):
        sr = pydicom.dcmread(path)
        for study in sr.CurrentRequestedProcedureEvidenceSequence:
            for series in study.ReferencedSeriesSequence:
                found.update(str(i.ReferencedSOPInstanceUID) for i in series.ReferencedSOPSequence)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--per-study", type=int, default=10)
    parser.add_argument("--model", type=Path, help="model folder (default: the shipped one)")
    parser.add_argument("--device", choices=DEVICES, default="cpu")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fd-node-bench-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "send").mkdir()
        paths = make_instances(tmp_path / "send", args.instances, args.per_study)
        studies = -(-args.instances // args.per_study)
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = tmp_path / "node"
        argv_node = [sys.executable, "-m", "fracture_desktop", "listen", "--port", str(port)]
        argv_node += ["--out", str(out), "--device", args.device]
        if args.model is not None:
            argv_node += ["--model", str(args.model)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        node = subprocess.Popen(argv_node, stderr=subprocess.PIPE, text=True, env=env)
        lines: list[str] = []
        reader = threading.Thread(
            target=lambda: lines.extend(line.rstrip() for line in node.stderr or ()),
            daemon=True,
        )
        reader.start()
        while not any("listening on" in line for line in lines):
            if node.poll() is not None:
                raise SystemExit("listen did not start:\n" + "\n".join(lines))
            time.sleep(0.2)
        samples: list[tuple[float, int, int]] = []  # (time, studies done, rss)
        started = time.perf_counter()
        statuses = push(paths, port, args.per_study)
        pushed = time.perf_counter() - started
        while True:
            done = sum(bool(_STUDY_DONE.search(line)) for line in lines)
            samples.append((time.perf_counter() - started, done, tree_rss(node.pid)))
            if done >= studies:
                break
            if node.poll() is not None:
                raise SystemExit("listen ended:\n" + "\n".join(lines))
            time.sleep(0.5)
        total = time.perf_counter() - started
        node.send_signal(signal.SIGINT)
        node.wait(60)
        reader.join(10)
        for line in lines:
            if " WARNING " in line or " ERROR " in line:
                print(line)
        sent = set(statuses)
        stored = {p.stem for p in (out / "incoming").rglob("*.dcm")}
        in_srs = referenced(out / "results")
        first = next(rss for _, done, rss in samples if done >= 1)
        last = samples[-1][2]
        peak = max(rss for _, _, rss in samples)
        print(f"instances sent {len(sent)}, accepted {sum(s == 0 for s in statuses.values())}")
        print(f"stored {len(sent & stored)}, referenced in an SR {len(sent & in_srs)}")
        print(f"lost {len(sent - (stored & in_srs))}")
        print(f"push {pushed:.1f} s; all {studies} studies triaged after {total:.1f} s "
              f"({args.instances / total:.2f} instances/s)")  # fmt: skip
        print(f"node tree RSS: after the first study {first / MB:.0f} MB, after the last "
              f"{last / MB:.0f} MB, peak {peak / MB:.0f} MB")  # fmt: skip
        return 0 if sent <= (stored & in_srs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
