"""``--self-test`` from the source tree: the check ``make package`` runs on the frozen app."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from fracture_desktop.training.onnx_export import export_onnx

ROOT = Path(__file__).resolve().parents[2]


def self_test(*args: str, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *python_flags, "-m", "fracture_desktop", "--self-test", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_self_test_passes_from_the_source_tree_without_qt(
    model_dir: Path, bundle: ModuleType, tmp_path: Path
) -> None:
    # The model with its ONNX graph, as the bundle reads it (no torch).
    graph_dir = tmp_path / model_dir.name
    shutil.copytree(model_dir, graph_dir)
    export_onnx(graph_dir)
    # -X importtime lists every imported module on stderr: none may be Qt, and none may be
    # a module the PyInstaller spec leaves out of the bundle (torch among them).
    result = self_test("--model", str(graph_dir), python_flags=("-X", "importtime"))

    assert result.returncode == 0, result.stderr[-3000:]
    assert "fracture_net-untrained 0.0.0" in result.stdout
    assert "sha256 verified, cpu, ONNX Runtime" in result.stdout
    assert "Grad-CAM map checked" in result.stdout
    assert "3 studies, SRs read back" in result.stdout  # the samples' three DICOM studies
    assert "self-test passed" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "fracture_desktop.self_test" in imported
    assert not {m for m in imported if m.startswith(("PySide6", "pyqtgraph", "shiboken6"))}
    prefixes = tuple(f"{name}." for name in bundle.EXCLUDES)
    assert not {m for m in imported if m in bundle.EXCLUDES or m.startswith(prefixes)}


def test_a_tampered_model_fails_the_self_test(tampered_model_dir: Path) -> None:
    result = self_test("--model", str(tampered_model_dir))

    assert result.returncode != 0
    assert "self-test FAILED" in result.stderr
    assert "do not match their model card" in result.stderr


def test_a_missing_model_fails_the_self_test(tmp_path: Path) -> None:
    result = self_test("--model", str(tmp_path / "nowhere"))

    assert result.returncode != 0
    assert "self-test FAILED: no model card" in result.stderr


def test_the_self_test_honours_the_model_folder_setting(tmp_path: Path, monkeypatch) -> None:
    from fracture_desktop.self_test import run_self_test

    nowhere = tmp_path / "nowhere"
    monkeypatch.setenv("FRACTURE_DESKTOP_MODEL_DIR", str(nowhere))
    out, err = io.StringIO(), io.StringIO()
    assert run_self_test(out=out, err=err) != 0
    assert f"no model card in {nowhere}" in err.getvalue()


def test_a_bundle_without_highdicom_tables_fails_the_self_test(monkeypatch) -> None:
    # A bundle once left highdicom's JSON tables out: its DICOM results failed at the first
    # study `listen` received. The self-test writes them, so that build fails instead.
    from fracture_desktop.core.dicom_out import image
    from fracture_desktop.self_test import run_self_test

    def lost(*_: object) -> None:
        raise FileNotFoundError("highdicom/_standard/sop_class_iod_map.json")

    monkeypatch.setattr(image, "get_sop_class_iod_map", lost)
    out, err = io.StringIO(), io.StringIO()
    assert run_self_test(out=out, err=err) != 0
    assert "sop_class_iod_map.json" in err.getvalue()
    assert "reports  CSV" in out.getvalue()  # what came before still ran
