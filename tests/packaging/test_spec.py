"""The PyInstaller build description (build_scripts/bundle.py): checked without building."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import ModuleType

import pytest

import fracture_desktop
from fracture_desktop.core.files import file_sha256
from fracture_desktop.core.inference.card import SHIPPED_MODEL_ID

PACKAGE = Path(fracture_desktop.__file__).parent


def test_every_data_entry_but_the_model_exists(bundle: ModuleType) -> None:
    missing = [
        src for src, _ in bundle.data_entries() if src != str(bundle.ROOT / bundle.SHIPPED_MODEL)
    ]
    assert [src for src in missing if not Path(src).exists()] == []


def test_the_shipped_model_entry_exists(bundle: ModuleType) -> None:
    model = bundle.ROOT / bundle.SHIPPED_MODEL
    if not model.exists():
        pytest.skip(f"{bundle.SHIPPED_MODEL} is not released yet")
    assert (model / "model_card.json").is_file()


def test_the_bundled_model_is_the_one_the_app_loads(bundle: ModuleType) -> None:
    assert f"models/{SHIPPED_MODEL_ID}" == bundle.SHIPPED_MODEL
    assert (bundle.SHIPPED_MODEL, bundle.SHIPPED_MODEL) in bundle.DATAS


def test_the_entry_script_exists(bundle: ModuleType) -> None:
    assert bundle.ENTRY_SCRIPT.is_file()


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _runtime_imports(torch_engine: tuple[str, ...]) -> set[str]:
    """Names imported by the package outside ``training``, the training subcommands and the
    torch engine.

    ``cli.py`` imports ``fracture_desktop.training`` inside the train / evaluate /
    export-model handlers only; those need the development install, not the bundle. The
    torch engine (``torch_engine``) serves ``--device cuda``, which the bundle leaves out;
    ``engines.load_engine`` imports it only after checking that torch is installed.
    """
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "training" in path.relative_to(PACKAGE).parts or _module(path) in torch_engine:
            continue
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
        if path == PACKAGE / "cli.py":
            found = {n for n in found if not n.startswith("fracture_desktop.training")}
        if path == PACKAGE / "core" / "inference" / "engines.py":
            found -= set(torch_engine)
        names |= found
    return names


def test_no_excluded_module_is_imported_at_run_time(bundle: ModuleType) -> None:
    excluded = set(bundle.EXCLUDES)
    hits = [
        name
        for name in sorted(_runtime_imports(bundle.TORCH_ENGINE))
        if any(name == ex or name.startswith(ex + ".") for ex in excluded)
    ]
    assert hits == []


def test_build_info_records_the_bundled_weights(
    bundle: ModuleType, model_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "checkout"
    (root / "models").mkdir(parents=True)
    shipped = root / bundle.SHIPPED_MODEL
    shipped.symlink_to(model_dir, target_is_directory=True)

    info = json.loads(bundle.write_build_info(tmp_path / "out", root).read_text())

    card = json.loads((model_dir / "model_card.json").read_text())
    weights = model_dir / card["weights"]["file"]
    assert info["version"] == fracture_desktop.__version__
    assert info["git_commit"] == "unknown"  # not a git checkout
    assert info["built"].endswith("+00:00")
    assert info["models"][card["id"]]["sha256"] == file_sha256(weights)
    assert "onnxruntime" in info and "torch" not in info


def test_the_bundle_leaves_torch_out_and_keeps_onnx_runtime(bundle: ModuleType) -> None:
    assert {"torch", "torchvision", "onnx"} <= set(bundle.EXCLUDES)
    assert "fracture_desktop.core.inference.engine" in bundle.TORCH_ENGINE
    assert not any(ex == "onnxruntime" for ex in bundle.EXCLUDES)
    card = json.loads((bundle.ROOT / bundle.SHIPPED_MODEL / "model_card.json").read_text())
    assert (bundle.ROOT / bundle.SHIPPED_MODEL / card["onnx"]["file"]).is_file()


def test_json_data_goes_in_minified_and_unchanged(bundle: ModuleType, tmp_path: Path) -> None:
    table = {"patient": [{"keyword": "PatientName", "type": "2", "path": []}], "n": 1.5}
    source = tmp_path / "pkg" / "_standard" / "table.json"
    source.parent.mkdir(parents=True)
    source.write_text(json.dumps(table, indent=2), encoding="utf-8")
    other = tmp_path / "pkg" / "profile.icc"
    other.write_bytes(b"\x00icc")

    entries = [(str(source), "pkg/_standard"), (str(other), "pkg")]
    (json_entry, icc_entry) = bundle.minified_json(entries, tmp_path / "work")

    assert icc_entry == (str(other), "pkg")
    copy = Path(json_entry[0])
    assert json_entry[1] == "pkg/_standard" and copy.name == "table.json"
    assert json.loads(copy.read_text(encoding="utf-8")) == table
    assert copy.stat().st_size < source.stat().st_size
    assert source.read_text(encoding="utf-8") == json.dumps(table, indent=2)  # left as it was
