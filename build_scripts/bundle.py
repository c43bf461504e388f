"""What goes into the PyInstaller bundle, kept free of PyInstaller so tests can read it.

``fracture_desktop.spec`` imports this module; ``tests/packaging`` checks that every data
entry exists. The bundle's layout mirrors the source tree, so
:func:`fracture_desktop.core.paths.bundle_root` finds ``resources/`` and ``models/`` the
same way in both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "fracture-desktop"
ENTRY_SCRIPT = ROOT / "fracture_desktop" / "__main__.py"
BUILD_INFO_FILE = "build_info.json"

#: The model the app loads by default (``fracture_desktop.core.inference.card``).
SHIPPED_MODEL = "models/efficientnet_lite0-v4"
#: (source relative to the checkout, destination folder inside the bundle). Explicit, as in
#: qutebrowser's spec: nothing reaches the bundle by accident (a model under development
#: lying in ``models/`` stays out).
DATAS: tuple[tuple[str, str], ...] = (
    ("resources", "resources"),
    (SHIPPED_MODEL, SHIPPED_MODEL),
)

#: Packages that read their own data files at run time (``pkgutil.get_data``, paths beside
#: their modules), which PyInstaller's analysis of imports does not see: (package, subfolder
#: or None for all of it). The self-test's DICOM step fails a bundle that lacks highdicom's.
#: Their JSON files go in minified (:func:`minified_json`).
PACKAGE_DATA: tuple[tuple[str, str | None], ...] = (
    ("_gdcm", "XML"),  # GDCM's data dictionaries
    ("highdicom", None),  # its tables of the standard (SOP classes, IOD modules), ICC profile
)

#: The torch engine and the networks it builds (docs/ARCHITECTURE.md, "Two engines"): the
#: bundle reads with ONNX Runtime, so they stay out with torch; ``--device cuda`` then says
#: that torch is not installed.
TORCH_ENGINE: tuple[str, ...] = tuple(
    f"fracture_desktop.core.inference.{name}"
    for name in ("engine", "models", "efficientnet_lite", "localiser", "taps", "mirror", "folding")
)

#: Modules the app never imports at run time. Each saves size or stops a hook from dragging
#: in a second Qt or the training stack.
EXCLUDES: tuple[str, ...] = (
    # the training stack (extra "train") and our training code, which imports it
    "fracture_desktop.training",
    "torch",
    "torchvision",
    *TORCH_ENGINE,
    "sklearn",
    "scipy",
    "matplotlib",
    "pandas",
    "sympy",
    "mpmath",
    "networkx",
    # the graph writer (export-onnx) and ONNX Runtime's Python tools, which import it:
    # reading a graph needs neither
    "onnx",
    "onnxscript",
    "onnx_ir",
    "onnxruntime.quantization",
    "onnxruntime.tools",
    "onnxruntime.transformers",
    # NVIDIA's CUDA bindings, which a torch install brings along: ONNX Runtime's CPU build
    # does not use them
    "cuda",
    # other GUI toolkits and Qt bindings
    "tkinter",
    "_tkinter",
    "PyQt5",
    "PyQt6",
    "PySide2",
    # Qt modules the viewer does not use (pyqtgraph needs QtOpenGL and QtOpenGLWidgets at import)
    "PySide6.Qt3DCore",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets",
    "PySide6.QtNetwork",
    "PySide6.QtPdf",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtUiTools",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "pyqtgraph.opengl",
    "pyqtgraph.examples",
    "pyqtgraph.jupyter",
    # development tools
    "pytest",
    "IPython",
    "PyInstaller",
    "setuptools",
    "pip",
)

#: Hidden imports: plugins found by name or entry point at run time.
HIDDEN_IMPORTS: tuple[str, ...] = ("libjpeg", "openjpeg", "rle", "gdcm")

#: Distributions whose metadata must ship: pylibjpeg finds its decoders by entry point.
METADATA: tuple[str, ...] = (
    "pylibjpeg",
    "pylibjpeg-libjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-rle",
    "fracture-desktop",
)

#: Bundle paths (``fnmatch`` patterns on the destination) dropped after analysis: headers
#: and static libraries, GDCM's command-line tools, Qt's translations (the interface is
#: English only), and the shipped model's torch weights: ONNX Runtime runs its graph
#: (the model menu accepts a folder with a graph and no weights).
TRIM_PATTERNS: tuple[str, ...] = (
    f"{SHIPPED_MODEL}/weights.pt",
    "*.a",
    "_gdcm/gdcm*",
    "PySide6/Qt/translations/*",
)

#: Plugins for what the viewer never runs on, and Qt's network library, which only they
#: need: the GTK3 desktop theme (GTK itself is not bundled, so the theme could never load;
#: Qt's own file dialogs serve), EGLFS and VNC (no desktop), touch input over UDP (TUIO);
#: and Pillow's AVIF codec (no radiograph arrives as AVIF). About 16 MB with the system
#: libraries below. Wayland stays: a Wayland desktop then runs the viewer natively.
UNUSED_PLUGINS: tuple[str, ...] = (
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/egldeviceintegrations/*",
    "PySide6/Qt/plugins/generic/libqtuiotouchplugin.so",
    "PySide6/Qt/lib/libQt6Egl*",
    "PySide6/Qt/lib/libQt6Network.so*",
    "PIL/_avif.*.so",
    "pillow.libs/libavif-*",
)

#: System libraries PyInstaller collected for :data:`UNUSED_PLUGINS` alone (GTK's cairo,
#: pango and gio stack, Kerberos for Qt's network library). The spec refuses to build
#: when a library it keeps needs one of them (``readelf``'s NEEDED entries).
UNUSED_LIBRARIES: tuple[str, ...] = (
    "libatk-1.0.so*",
    "libcairo*.so*",
    "libpango*.so*",
    "libgdk_pixbuf-2.0.so*",
    "libpixman-1.so*",
    "libharfbuzz.so*",
    "libgraphite2.so*",
    "libfribidi.so*",
    "libthai.so*",
    "libdatrie.so*",
    "libgio-2.0.so*",
    "libgmodule-2.0.so*",
    "libgobject-2.0.so*",
    "libmount.so*",
    "libblkid.so*",
    "libselinux.so*",
    "libjpeg.so.62*",
    "libXrender.so*",
    "libgssapi_krb5.so*",
    "libkrb5*.so*",
    "libk5crypto.so*",
    "libcom_err.so*",
    "libkeyutils.so*",
)

#: Libraries (``fnmatch`` patterns on bundle paths) whose static symbol table is stripped
#: after collection (``strip --strip-unneeded`` keeps the dynamic symbols the loader
#: needs): Python's library and extension modules and the DICOM decoders, which arrive
#: unstripped (about 40 MB; libpython alone 23 -> 6 MB). Never wheels' vendored libraries
#: (``*.libs``): patchelf rewrote them, and strip can corrupt those; these have no RPATH.
STRIP_LIBRARIES: tuple[str, ...] = (
    "libpython3*.so*",
    "python3*/lib-dynload/*.so",
    "_libjpeg.*.so",
    "_openjpeg.*.so",
    "_CharLS.*.so",
)


def data_entries(root: Path = ROOT) -> list[tuple[str, str]]:
    """:data:`DATAS` as (absolute source, destination) pairs, as PyInstaller takes them."""
    return [(str(root / source), dest) for source, dest in DATAS]


def minified_json(entries: list[tuple[str, str]], folder: Path) -> list[tuple[str, str]]:
    """``entries`` (PyInstaller's (source, destination folder) pairs) with each JSON file
    replaced by a copy without indentation, written under ``folder``.

    The document is the same (``json.loads`` gives an equal object) and a third smaller:
    highdicom's table of the attributes of every module, which it reads whole to copy a
    source's Patient and Study modules into our SR, is 22 MB indented and 16 MB minified.
    """
    out = []
    for src, dest in entries:
        if src.endswith(".json"):
            copy = folder / "minified" / dest / Path(src).name
            copy.parent.mkdir(parents=True, exist_ok=True)
            document = json.loads(Path(src).read_text(encoding="utf-8"))
            copy.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
            src = str(copy)
        out.append((src, dest))
    return out


def git_commit(root: Path = ROOT) -> str:
    """The checkout's commit, with ``+dirty`` when tracked files differ; ``unknown`` without git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def build_info(root: Path = ROOT) -> dict[str, Any]:
    """The build-info record: version, commit, date, Python, ONNX Runtime, the bundled
    weights and graph.

    Their sha256 are computed from the files that are bundled (not copied from the card),
    so a reader can compare both.
    """
    import onnxruntime  # the build venv's: its version is what the bundle carries

    sys.path.insert(0, str(root))
    import fracture_desktop
    from fracture_desktop.core.files import file_sha256

    models = {}
    card_path = root / SHIPPED_MODEL / "model_card.json"
    if card_path.is_file():  # without it the bundle fails its own self-test
        card = json.loads(card_path.read_text(encoding="utf-8"))
        models[card["id"]] = {
            "version": str(card["version"]),
            "weights": card["weights"]["file"],
            "sha256": file_sha256(card_path.parent / card["weights"]["file"]),
        }
        if "onnx" in card:
            graph = card_path.parent / card["onnx"]["file"]
            models[card["id"]]["graph_sha256"] = file_sha256(graph)
    return {
        "app": APP_NAME,
        "version": fracture_desktop.__version__,
        "git_commit": git_commit(root),
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "onnxruntime": onnxruntime.__version__,
        "models": models,
    }


def write_build_info(folder: Path, root: Path = ROOT) -> Path:
    """Write :func:`build_info` as ``folder/build_info.json``; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BUILD_INFO_FILE
    path.write_text(json.dumps(build_info(root), indent=2) + "\n", encoding="utf-8")
    return path
