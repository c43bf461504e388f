"""The Help menu's dialogs: the shortcuts, the model card in use, and About."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from fracture_desktop.gui.controllers.analysis import AnalysisController
from fracture_desktop.gui.menus import action_name
from fracture_desktop.gui.widgets.dialogs import (
    TextDialog,
    about_html,
    model_card_html,
    shortcuts_html,
)


class HelpMenu:
    """Opens the Help menu's dialogs over ``window``.

    Parameters
    ----------
    window : QWidget
        The dialogs' parent; its actions are the shortcuts listed.
    analysis : AnalysisController
        Holds the model card in use, or why there is none.
    """

    def __init__(self, window: QWidget, analysis: AnalysisController) -> None:
        self._window, self._analysis = window, analysis

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """``(keys, what)`` for every action of the window with a shortcut."""
        rows = []
        for act in self._window.actions():
            keys = act.shortcut().toString()
            if keys:
                rows.append((keys, action_name(act)))
        return rows

    def show_shortcuts(self) -> None:
        TextDialog("Shortcuts", shortcuts_html(self.shortcut_rows()), self._window).open()

    def show_model(self) -> None:
        text = model_card_html(self._analysis.card, self._analysis.unavailable_reason)
        TextDialog("Model", text, self._window).open()

    def show_about(self) -> None:
        TextDialog("About Fracture Desktop", about_html(), self._window).open()
