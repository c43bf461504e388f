"""Dependency rules (DESIGN.md): core never imports Qt or gui; torch stays in inference."""

from __future__ import annotations

import ast
from pathlib import Path

import fracture_desktop

PACKAGE = Path(fracture_desktop.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(folder: Path, forbidden: tuple[str, ...], base: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in forbidden or name.startswith(forbidden):
                found.append(f"{path.relative_to(base)} imports {name}")
    return found


def test_core_never_imports_qt_or_gui() -> None:
    forbidden = ("PySide6", "pyqtgraph", "shiboken6", "fracture_desktop.gui")
    assert offenders(PACKAGE / "core", forbidden) == []


def test_torch_only_inside_inference_and_training() -> None:
    outside = [
        p for p in PACKAGE.rglob("*.py") if "inference" not in p.parts and "training" not in p.parts
    ]
    hits = [
        f"{p.relative_to(PACKAGE)}"
        for p in outside
        if {"torch", "torchvision"} & {n.split(".")[0] for n in imported_modules(p)}
    ]
    assert hits == []


def test_runtime_never_imports_torchvision() -> None:
    runtime = [p for p in PACKAGE.rglob("*.py") if "training" not in p.parts]
    hits = [
        str(p)
        for p in runtime
        if any(n.split(".")[0] == "torchvision" for n in imported_modules(p))
    ]
    assert hits == []


def test_a_rule_violation_is_detected(tmp_path: Path) -> None:
    # Guard against a checker that can never fail.
    bad = tmp_path / "core"
    bad.mkdir()
    (bad / "leak.py").write_text("from PySide6 import QtCore\n", encoding="utf-8")
    assert offenders(bad, ("PySide6",), base=tmp_path) == ["core/leak.py imports PySide6"]
