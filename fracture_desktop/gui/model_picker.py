"""Analysis > Model: the shipped model folders and the reader's, each with its card's facts.

Choosing one re-reads its card and kept results, reloads the engine (which checks the
weights' sha256 before any image is scored), keeps the choice in the settings, and leaves the
earlier model's results on show in brackets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from fracture_desktop.core.inference.catalog import available_models, read_choice
from fracture_desktop.gui.controllers.analysis import AnalysisController
from fracture_desktop.gui.controllers.reading import ReadingController
from fracture_desktop.gui.settings import ViewerSettings
from fracture_desktop.gui.status import StatusArea


class ModelPicker:
    """Fills the model menu and carries out the reader's choice.

    Parameters
    ----------
    menu : QMenu
        Filled afresh each time it is about to show.
    add_action : QAction
        "Add a model folder...", listed last.
    settings, analysis, reading, status
        Where the choice is kept, the controller that loads it, the views to mark.
    notify : callable
        ``notify(reason, details="")``.
    parent : QWidget
        Parent of the folder dialog.
    """

    def __init__(
        self,
        menu: QMenu,
        add_action: QAction,
        settings: ViewerSettings,
        analysis: AnalysisController,
        reading: ReadingController,
        status: StatusArea,
        notify: Callable[..., None],
        parent: QWidget,
    ) -> None:
        self.menu, self._add_action = menu, add_action
        self._settings, self._analysis, self._reading = settings, analysis, reading
        self._status, self._notify, self._parent = status, notify, parent
        menu.aboutToShow.connect(self.fill)
        add_action.triggered.connect(self.add_folder)

    def fill(self) -> None:
        """List the models, the one in use checked; unusable ones greyed out with why."""
        menu = self.menu
        menu.clear()
        group = QActionGroup(menu)
        chosen = Path(self._analysis.model_dir).resolve()
        for choice in available_models(self._settings.user_model_dirs):
            act = menu.addAction(choice.description)
            act.setCheckable(True)
            act.setChecked(choice.directory.resolve() == chosen)
            act.setEnabled(not choice.problem)
            act.setToolTip(str(choice.directory))
            act.triggered.connect(lambda _=False, d=choice.directory: self.choose(d))
            group.addAction(act)
        menu.addSeparator()
        menu.addAction(self._add_action)

    def add_folder(self) -> None:
        """Add a model folder (one with a ``model_card.json``) and use it."""
        chosen = QFileDialog.getExistingDirectory(
            self._parent, "Add a model folder", str(Path.home())
        )
        if not chosen:
            return
        choice = read_choice(Path(chosen))
        if choice.card is None:
            self._notify(f"{chosen} is not a model folder: {choice.problem}")
            return
        self._settings.add_user_model_dir(Path(chosen))
        self.choose(Path(chosen))

    def choose(self, directory: Path) -> None:
        """Analyse with the model in ``directory`` from now on, and next time too."""
        directory = Path(directory)
        if directory.resolve() == Path(self._analysis.model_dir).resolve():
            return
        self._reading.model_changed()
        self._analysis.set_model_dir(directory)
        self._settings.model_dir = directory
        self._status.model_label.setText("Model: checking\u2026")
