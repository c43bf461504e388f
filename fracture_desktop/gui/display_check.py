"""Why the viewer cannot open a window on Linux, said before Qt ends the process.

When Qt's platform plugin cannot start, Qt aborts the process (``qFatal``): the reader sees
"Could not load the Qt platform plugin" and a core dump, which no Python handler can catch,
and no word on what to install. On X11 the usual causes are two: system libraries the
``xcb`` plugin needs are missing (a minimal or fresh install: PySide6's wheels bundle Qt,
not the X11 client libraries), or there is no display to connect to (an SSH session without
forwarding, ``DISPLAY`` unset). :func:`display_problem` makes the same checks first, the
way Qt makes them (the dynamic loader opens the plugin; libxcb connects to ``DISPLAY``),
and words the answer, so that :func:`~fracture_desktop.gui.app.run_viewer` can print it and
exit. Other platforms (Windows, macOS, Wayland, ``offscreen``) are left to Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Debian and Ubuntu packages of the X11 libraries Qt 6's ``xcb`` plugin loads (Qt's
#: "Qt for X11 Requirements"; ``libxcb-cursor0`` is needed since Qt 6.5).
XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 "
    "libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0"
)
#: Loaded by the plugin at run time rather than linked, so opening the plugin does not
#: find it missing.
XCB_CURSOR = "libxcb-cursor.so.0"
LIBXCB = "libxcb.so.1"
WITHOUT_WINDOW = "`fracture-desktop scan FOLDER` reads and analyses images without a window."


def uses_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will start its X11 (``xcb``) plugin: on Linux, asked for by
    ``QT_QPA_PLATFORM`` or, with that unset, outside a Wayland session."""
    if not platform.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(";")[0].split(":")[0] == "xcb"
    return environ.get("XDG_SESSION_TYPE", "") != "wayland"


def xcb_problem(libraries: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """What stops the ``xcb`` plugin from opening a window, or None.

    Checks, in Qt's order: that each of ``libraries`` (the plugin itself, whose linked
    libraries the dynamic loader opens with it, then :data:`XCB_CURSOR`) loads, the loader's
    own error naming what is missing; then a connection to ``DISPLAY``.
    """
    for library in libraries:
        try:
            ctypes.CDLL(library)
        except OSError as exc:
            return (
                "The viewer cannot open a window: Qt's X11 plugin cannot load a system "
                f"library it needs ({exc}). On Debian or Ubuntu: sudo apt-get install "
                f"{XCB_PACKAGES}. {WITHOUT_WINDOW}"
            )
    display = environ.get("DISPLAY", "")
    if not display:
        return (
            "The viewer cannot open a window: no display (DISPLAY is not set). Start it "
            f"from a desktop session, or over SSH with X forwarding (ssh -X). {WITHOUT_WINDOW}"
        )
    if not _connects(display):
        return (
            f"The viewer cannot open a window: the X display {display!r} does not accept a "
            f"connection (is the X server running, and is this user allowed?). {WITHOUT_WINDOW}"
        )
    return None


def _connects(display: str) -> bool:
    """Whether libxcb connects to ``display``, as the plugin will (the connection is closed
    again at once)."""
    xcb = ctypes.CDLL(LIBXCB)  # the plugin links it, so it loaded above
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = (ctypes.c_char_p, ctypes.c_void_p)
    xcb.xcb_connection_has_error.argtypes = (ctypes.c_void_p,)
    xcb.xcb_disconnect.argtypes = (ctypes.c_void_p,)
    # xcb_connect never returns NULL: a failed connection is an object in an error state,
    # which must be disconnected all the same.
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def display_problem(environ: Mapping[str, str] = os.environ) -> str | None:
    """Why the viewer cannot open a window here, or None when Qt should manage (or when
    the platform is not X11, whose checks are Qt's own)."""
    if not uses_xcb(environ):
        return None
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    plugin = plugins / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return None  # a Qt built another way: its own message will have to do
    return xcb_problem((str(plugin), XCB_CURSOR), environ)
