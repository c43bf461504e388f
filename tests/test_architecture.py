"""Layer rules (docs/ARCHITECTURE.md), read from every module's imports.

``core`` never imports Qt, pyqtgraph, the viewer, training or the command-line modules;
torch is imported only by the torch engine (in ``core/inference``) and ``training``, and the
viewer, ``scan`` and ``--self-test`` run with torch unimportable; the viewer never imports
training, and opens a DICOM folder with pydicom unimportable in its own process; ``validate``
runs without the training stack (torch, scikit-learn, scipy, ``fracture_desktop.training``), as
in the desktop bundle; nothing at run time imports torchvision. Run by ``make test``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import fracture_desktop

PACKAGE = Path(fracture_desktop.__file__).parent
QT = ("PySide6", "pyqtgraph", "shiboken6")
ENTRY_POINTS = tuple(
    f"fracture_desktop.{name}" for name in ("batch", "cli", "self_test", "terminal", "__main__")
)


def module_name(path: Path, base: Path = PACKAGE) -> str:
    parts = list(path.relative_to(base.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, base: Path = PACKAGE) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, lazy imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path, base)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                module = node.module or ""
            names.add(module)
    return names


def offenders(folder: Path, forbidden: tuple[str, ...], base: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for name in sorted(imported_modules(path, base)):
            if name.split(".")[0] in forbidden or name.startswith(forbidden):
                found.append(f"{path.relative_to(base)} imports {name}")
    return found


def test_core_imports_no_qt_viewer_training_or_entry_points() -> None:
    forbidden = (*QT, "fracture_desktop.gui", "fracture_desktop.training", *ENTRY_POINTS)
    assert offenders(PACKAGE / "core", forbidden) == []


def test_the_viewer_never_imports_training() -> None:
    assert offenders(PACKAGE / "gui", ("fracture_desktop.training",)) == []


#: The torch engine and the networks it builds: the only modules of ``core`` that import
#: torch. The rest of ``core``, the viewer and the headless commands read with ONNX Runtime.
TORCH_ENGINE = tuple(
    PACKAGE / "core" / "inference" / f"{name}.py"
    for name in (
        "engine", "models", "efficientnet_lite", "localiser", "taps", "mirror", "folding"
    )
)  # fmt: skip


def test_torch_only_in_the_torch_engine_and_training() -> None:
    outside = [
        p
        for p in PACKAGE.rglob("*.py")
        if p not in TORCH_ENGINE and not p.is_relative_to(PACKAGE / "training")
    ]
    hits = [
        str(p.relative_to(PACKAGE))
        for p in outside
        if {"torch", "torchvision"} & {n.split(".")[0] for n in imported_modules(p)}
    ]
    assert hits == []
    assert all(p.is_file() for p in TORCH_ENGINE)


NO_TORCH = """
import sys
sys.modules["torch"] = None  # an import of torch now raises ImportError
sys.modules["torchvision"] = None
import fracture_desktop.gui.main_window, fracture_desktop.batch
from fracture_desktop.cli import main
if __name__ == "__main__":
    sys.exit(main(["--self-test"]))
"""


def test_the_viewer_scan_and_the_self_test_run_without_torch(tmp_path: Path) -> None:
    # Imported, not just read: the viewer's modules, `scan`, and the self-test end to end
    # (model, scan, analysis, heatmap, CSV and PDF) with torch made unimportable.
    script = tmp_path / "no_torch.py"
    script.write_text(NO_TORCH, encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(PACKAGE.parent)}
    env.pop("FRACTURE_DESKTOP_MODEL_DIR", None)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ONNX Runtime" in done.stdout
    assert "self-test passed" in done.stdout


NO_TRAINING_STACK = """
import sys
# What the desktop bundle and the base install lack: an import of any now raises ImportError.
for name in ("torch", "torchvision", "sklearn", "scipy", "fracture_desktop.training"):
    sys.modules[name] = None
from fracture_desktop.cli import main
if __name__ == "__main__":
    sys.exit(main(["validate", sys.argv[1], "--json", sys.argv[2], "--device", "cpu"]))
"""


def test_validate_runs_without_the_training_stack(tmp_path: Path) -> None:
    # A site validates the model on its own cases with what the bundle carries: the graph
    # through ONNX Runtime, the metrics in numpy (core/metrics.py).
    samples = PACKAGE.parent / "resources" / "samples" / "fracatlas"
    site = tmp_path / "site"
    for folder, names in (
        ("Fractured", ("IMG0000188.jpg", "IMG0001350.jpg")),
        ("Non_fractured", ("IMG0000002.jpg", "IMG0000089.jpg")),
    ):
        (site / folder).mkdir(parents=True)
        for name in names:
            (site / folder / name).write_bytes((samples / name).read_bytes())
    script, report = tmp_path / "no_training.py", tmp_path / "validation.json"
    script.write_text(NO_TRAINING_STACK, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    env.pop("FRACTURE_DESKTOP_MODEL_DIR", None)
    done = subprocess.run(
        [sys.executable, str(script), str(site), str(report)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(report.read_text(encoding="utf-8"))
    assert (result["n_positive"], result["n_negative"]) == (2, 2)
    assert 0.0 <= result["roc_auc_ci"][0] <= result["roc_auc"] <= result["roc_auc_ci"][1] <= 1.0
    assert result["site_thresholds"] is None  # 2 of each: too few for the card's rule
    assert "ROC-AUC" in done.stdout


NO_PYDICOM = """
import sys
from pathlib import Path
if __name__ == "__main__":  # the decoder workers, spawned, re-import this file: they read
    sys.modules["pydicom"] = None  # with pydicom; the viewer's own process never does
    from PySide6.QtCore import QTimer
    from fracture_desktop.gui.app import application, create_window
    app = application()
    window = create_window(Path(sys.argv[1]))
    def shown():
        rows = window.tags.tree.topLevelItemCount()
        if window.view.image is not None and rows > 1 and window.session.scan_done:
            print("shown", window.view.image.path.name, rows, "header rows", flush=True)
            app.quit()
    poll = QTimer(interval=50, timeout=shown)
    poll.start()
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    window.close()
"""


def test_the_viewer_opens_a_dicom_folder_without_loading_pydicom(tmp_path: Path) -> None:
    # Scan, decode and header are read in the decoder workers, so the viewer's process need
    # not import pydicom (a quarter of a second before the first image): it is unimportable
    # there, and the first image of the samples, a DICOM file, still shows with its header.
    script = tmp_path / "no_pydicom.py"
    script.write_text(NO_PYDICOM, encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(PACKAGE.parent)}
    samples = PACKAGE.parent / "resources" / "samples"
    done = subprocess.run(
        [sys.executable, str(script), str(samples)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "shown CR_chest_RG1_J2KR.dcm" in done.stdout, done.stdout + done.stderr


def test_runtime_never_imports_torchvision() -> None:
    runtime = [p for p in PACKAGE.rglob("*.py") if "training" not in p.parts]
    hits = [
        str(p)
        for p in runtime
        if any(n.split(".")[0] == "torchvision" for n in imported_modules(p))
    ]
    assert hits == []


def test_a_rule_violation_is_detected(tmp_path: Path) -> None:
    # Guard against a checker that can never fail, relative imports included.
    bad = tmp_path / "pkg" / "core"
    bad.mkdir(parents=True)
    (bad / "leak.py").write_text("from PySide6 import QtCore\n", encoding="utf-8")
    (bad / "up.py").write_text("from ..gui import window\n", encoding="utf-8")
    base = tmp_path / "pkg"
    assert offenders(bad, ("PySide6", "pkg.gui"), base=base) == [
        "core/leak.py imports PySide6",
        "core/up.py imports pkg.gui",
    ]
