"""The main window's actions, menus and toolbar: every command with its name and shortcut."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QToolBar

from fracture_desktop.core.decisions import Decision
from fracture_desktop.core.inference.card import ModelCard
from fracture_desktop.core.inference.devices import DEVICES
from fracture_desktop.gui.layout import reset_layout
from fracture_desktop.gui.widgets.box_overlay import BOX_SCORE_NOTE
from fracture_desktop.gui.widgets.image_view import ZOOM_STEP

if TYPE_CHECKING:
    from fracture_desktop.gui.main_window import MainWindow

PRESET_KEYS = 9


def _action(
    w: MainWindow,
    text: str,
    shortcut: str | None,
    slot: Callable[..., object],
    checkable: bool = False,
) -> QAction:
    action = QAction(text, w)
    if shortcut:
        action.setShortcut(shortcut)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    w.addAction(action)  # shortcuts work whichever dock has focus
    return action


def build_actions(w: MainWindow) -> None:
    """Create ``w.act_*`` and ``w.device_actions``, and the menus and toolbar that show them."""

    def a(
        text: str, shortcut: str | None, slot: Callable[..., object], checkable: bool = False
    ) -> QAction:
        return _action(w, text, shortcut, slot, checkable)

    view, reading, display = w.view, w.reading, w.session.update_display
    commands = w.view_commands
    w.act_open = a("&Open Folder\u2026", "Ctrl+O", w.choose_folder)
    w.act_export = a("&Export report\u2026", "Ctrl+E", w.report_flow.ask)
    w.act_quit = a("&Quit", "Ctrl+Q", w.close)
    w.act_fit = a("&Fit", "F", view.fit)
    w.act_actual = a("&1:1 pixels", "A", view.actual_size)
    w.act_zoom_in = a("Zoom &in", "+", lambda: view.zoom_by(ZOOM_STEP))
    w.act_zoom_out = a("Zoom &out", "-", lambda: view.zoom_by(1 / ZOOM_STEP))
    w.act_invert = a("&Invert", "I", lambda: view.set_inverted(not view.user_invert))
    w.act_rotate = a("&Rotate 90\u00b0 clockwise", "R", lambda: view.rotate(90))
    w.act_rotate_back = a("Rotate 90\u00b0 &counter-clockwise", "Ctrl+R", lambda: view.rotate(-90))
    w.act_flip = a("F&lip left-right", "L", view.flip)
    w.act_flip_vertical = a("Flip &top-bottom", "V", view.flip_vertical)
    w.act_reset = a("R&eset view", "Shift+R", view.reset)
    w.act_measure = a("&Measure distance", "M", view.set_measuring, checkable=True)
    view.sig_measuring.connect(w.act_measure.setChecked)  # Esc stops measuring too
    w.act_delete_measure = a("&Delete last measurement", "Backspace", view.delete_last_measurement)
    w.act_clear_measure = a("Clear measurements", "Esc", commands.end_measuring)
    wheel_text = "Mouse &wheel steps images (Ctrl+wheel zooms)"
    w.act_wheel = a(wheel_text, None, commands.set_wheel_steps, checkable=True)
    w.act_overlays = a("Corner &overlays", "O", lambda on: display(overlays=on), True)
    w.act_reset_layout = a("Reset &layout", None, lambda: reset_layout(w))
    w.act_tags = w.tags_dock.toggleViewAction()
    w.act_tags.setShortcut("T")
    w.addAction(w.act_tags)
    w.act_presets = [
        a(f"Window preset {n}", str(n), lambda _=False, i=n - 1: commands.apply_preset(i))
        for n in range(1, PRESET_KEYS + 1)
    ]
    w.act_next = a("Next image", "Down", lambda: reading.step_image(1))
    w.act_prev = a("Previous image", "Up", lambda: reading.step_image(-1))
    w.act_next_series = a("Next series", "Right", lambda: reading.step_series(1))
    w.act_prev_series = a("Previous series", "Left", lambda: reading.step_series(-1))
    w.act_next_frame = a("Next frame", "PgDown", lambda: reading.step_frame(1))
    w.act_prev_frame = a("Previous frame", "PgUp", lambda: reading.step_frame(-1))
    w.act_first = a("First image", "Home", lambda: reading.jump(0))
    w.act_last = a("Last image", "End", lambda: reading.jump(-1))
    w.act_analyse_image = a("Analyse &image", "Ctrl+1", reading.analyse_image)
    w.act_analyse_series = a("Analyse &series", "Ctrl+2", reading.analyse_series)
    w.act_analyse_folder = a("Analyse &folder", "Ctrl+3", reading.analyse_folder)
    w.act_cancel = a("&Cancel analysis", "Ctrl+.", w.analysis.cancel)
    w.act_boxes = a("Fracture &boxes", "H", reading.show_boxes, checkable=True)
    w.act_heatmap = a(
        "Grad-CAM &heatmap (research)", "Shift+H", reading.show_heatmap, checkable=True
    )
    # The reader's own call about the image, recorded beside the model's flag.
    w.act_reader_fracture = a("Reader: &fracture", "Y", lambda: reading.decide(Decision.FRACTURE))
    w.act_reader_normal = a(
        "Reader: &no fracture", "N", lambda: reading.decide(Decision.NO_FRACTURE)
    )
    w.act_reader_uncertain = a(
        "Reader: &uncertain", "U", lambda: reading.decide(Decision.UNCERTAIN)
    )
    w.act_undecide = a("Clear reader &decision", "Shift+U", lambda: reading.decide(None))
    w.act_reader_name = a("Reader &name\u2026", None, w.ask_reader_name)
    w.act_shortcuts = a("&Shortcuts", "F1", w.help_menu.show_shortcuts)
    w.act_model = a("&Model\u2026", None, w.help_menu.show_model)
    w.act_site_profile = a("Site &profile\u2026", None, w.site.show_dialog)
    w.act_validate = a("&Validate this folder\u2026", None, w.site.validate_folder)
    w.act_about = a("&About Fracture Desktop\u2026", None, w.help_menu.show_about)
    w.act_open_report = a("Open last &report", None, w.report_flow.open_last)
    w.act_open_report.setEnabled(False)
    w.act_add_model = QAction("&Add a model folder\u2026", w)  # see gui/model_picker.py

    w.device_group = QActionGroup(w)
    w.device_actions = {}
    for device in DEVICES:
        act = QAction(device.upper() if device != "auto" else "Auto", w, checkable=True)
        act.triggered.connect(lambda _=False, d=device: w.set_device(d))
        w.device_group.addAction(act)
        w.device_actions[device] = act
    _build_menus(w)
    _build_toolbar(w)
    for act in w.actions():
        show_shortcut_in_tooltip(act)
    show_shortcut_in_tooltip(w.act_boxes, f"Fracture boxes: {BOX_SCORE_NOTE}")
    w.analysis.sig_model_state.connect(lambda card, reason: _model_state(w, card, reason))
    events = w.session.events
    for event in (events.opened, events.records_added, events.current):
        event.connect(lambda _change: update_enabled(w))
    update_enabled(w)
    w.analysis.sig_devices_known.connect(lambda devices: _devices_known(w, devices))


def _model_state(w: MainWindow, card: ModelCard | None, reason: str) -> None:
    w.status.show_model(card, reason)
    update_enabled(w)


#: Said by what needs an image (or a folder) while there is none.
NO_FOLDER = "open a folder first (Ctrl+O)"


def update_enabled(w: MainWindow) -> None:
    """Enable each command only when it can act: on an image on show, on a folder's images,
    with a usable model; a greyed one says why in its tooltip."""
    session = w.session
    model = "" if w.analysis.available else w.analysis.unavailable_reason
    image = "" if session.current is not None else NO_FOLDER
    images = "" if session.records else NO_FOLDER
    needs = (
        (image, (
            w.act_fit, w.act_actual, w.act_zoom_in, w.act_zoom_out, w.act_invert,
            w.act_rotate, w.act_rotate_back, w.act_flip, w.act_flip_vertical, w.act_reset,
            w.act_measure, w.act_delete_measure, w.act_clear_measure,
            w.act_reader_fracture, w.act_reader_normal, w.act_reader_uncertain, w.act_undecide,
        )),
        (images, (
            w.act_next, w.act_prev, w.act_next_series, w.act_prev_series, w.act_next_frame,
            w.act_prev_frame, w.act_first, w.act_last,
        )),
        (model or image, (w.act_analyse_image, w.act_analyse_series)),
        (model or images, (w.act_analyse_folder, w.act_export, w.act_validate)),
    )  # fmt: skip
    for reason, actions in needs:
        for act in actions:
            act.setEnabled(not reason)
            show_shortcut_in_tooltip(
                act, f"{action_name(act)} (unavailable: {reason})" if reason else ""
            )


def action_name(act: QAction) -> str:
    """``"Open Folder"``: the action's text without its mnemonic ``&`` and trailing ellipsis."""
    return act.text().replace("&", "").rstrip("\u2026")


def show_shortcut_in_tooltip(act: QAction, text: str = "") -> None:
    """``"Invert (I)"``: a toolbar button tells its key, as the menus do; ``text`` replaces
    the action's name."""
    keys = act.shortcut().toString()
    name = text or action_name(act)
    act.setToolTip(f"{name} ({keys})" if keys else name)


def name_presets(w: MainWindow, names: list[str]) -> None:
    """Label the number-key presets with what they are (``"bone (estimated)"``); keys
    without a preset for this image are greyed out."""
    for i, act in enumerate(w.act_presets):
        act.setText(names[i] if i < len(names) else f"Window preset {i + 1}")
        # A key without a preset is left out of the menu (its shortcut then does nothing).
        act.setVisible(i < len(names))
        show_shortcut_in_tooltip(act)
    w.presets_menu.setEnabled(bool(names))


def _devices_known(w: MainWindow, devices: tuple[str, ...]) -> None:
    """Offer only the devices this machine has (CUDA is offered until torch says)."""
    for device, act in w.device_actions.items():
        act.setEnabled(device in devices)
        act.setToolTip("" if device in devices else "Not available on this machine")


def _fill_recent(w: MainWindow) -> None:
    """File > Open Recent: the folders opened last, newest first."""
    w.recent_menu.clear()
    for folder in w.settings.recent:
        act = w.recent_menu.addAction(str(folder))
        act.triggered.connect(lambda _=False, f=folder: w.open_folder(f))
    w.recent_menu.setEnabled(bool(w.settings.recent))


def _add_all(menu: QMenu | QToolBar, actions: Iterable[QAction | None]) -> None:
    for act in actions:
        menu.addSeparator() if act is None else menu.addAction(act)


def _build_menus(w: MainWindow) -> None:
    menu = w.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addAction(w.act_open)
    w.recent_menu = file_menu.addMenu("Open &Recent")
    w.recent_menu.aboutToShow.connect(lambda: _fill_recent(w))
    _add_all(file_menu, (w.act_export, w.act_open_report, None, w.act_quit))
    view_menu = menu.addMenu("&View")
    _add_all(view_menu, (
        w.act_fit, w.act_actual, w.act_zoom_in, w.act_zoom_out, None,
        w.act_invert, w.act_rotate, w.act_rotate_back, w.act_flip, w.act_flip_vertical,
        w.act_reset, None,
        w.act_measure, w.act_delete_measure, w.act_clear_measure, w.act_overlays, w.act_tags,
        w.act_wheel, None,
        w.act_next, w.act_prev, w.act_next_series, w.act_prev_series,
        w.act_next_frame, w.act_prev_frame, w.act_first, w.act_last,
    ))  # fmt: skip
    w.presets_menu = view_menu.addMenu("Window presets")
    _add_all(w.presets_menu, w.act_presets)
    docks = (w.browser_dock, w.problems_dock, w.findings_dock)
    view_menu.addMenu("Panels").addActions([d.toggleViewAction() for d in docks])
    view_menu.addAction(w.act_reset_layout)
    analysis_menu = menu.addMenu("&Analysis")
    _add_all(analysis_menu, (
        w.act_analyse_image, w.act_analyse_series, w.act_analyse_folder,
        w.act_cancel, None, w.act_boxes, w.act_heatmap, None,
        w.act_reader_fracture, w.act_reader_normal, w.act_reader_uncertain, w.act_undecide,
        w.act_reader_name,
    ))  # fmt: skip
    analysis_menu.addMenu("&Device").addActions(list(w.device_actions.values()))
    analysis_menu.addActions([w.act_site_profile, w.act_validate])
    w.model_menu = analysis_menu.addMenu("&Model")
    help_menu = menu.addMenu("&Help")
    _add_all(help_menu, (w.act_shortcuts, w.act_model, None, w.act_about))


def _build_toolbar(w: MainWindow) -> None:
    # Short toolbar labels; menus keep the full names and shortcuts.
    for act, label in (
        (w.act_open, "Open"), (w.act_actual, "1:1"), (w.act_rotate, "Rotate"),
        (w.act_flip, "Flip"), (w.act_reset, "Reset"), (w.act_measure, "Measure"),
        (w.act_analyse_image, "▶ Image"), (w.act_analyse_series, "▶ Series"),
        (w.act_analyse_folder, "▶ Folder"), (w.act_boxes, "Boxes"), (w.act_heatmap, "Heatmap"),
    ):  # fmt: skip
        act.setIconText(label)
    tools = w.addToolBar("Tools")
    tools.setObjectName("toolsToolbar")
    tools.setMovable(False)
    _add_all(tools, (
        w.act_open, None, w.act_fit, w.act_actual, w.act_invert, w.act_rotate,
        w.act_flip, w.act_reset, w.act_measure, None,
        w.act_analyse_image, w.act_analyse_series, w.act_analyse_folder, None, w.act_boxes,
        w.act_heatmap,
    ))  # fmt: skip
    tools.addWidget(w.opacity)
    tools.addWidget(w.legend)
