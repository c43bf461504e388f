"""View commands that reach past the image view: the status bar, the settings, navigation."""

from __future__ import annotations

from fracture_desktop.core.session import ReadingSession
from fracture_desktop.gui.controllers.reading import ReadingController
from fracture_desktop.gui.settings import ViewerSettings
from fracture_desktop.gui.status import StatusArea
from fracture_desktop.gui.widgets.image_view import ImageView


class ViewCommands:
    """Window presets, the end of measuring, and what the mouse wheel does.

    Parameters
    ----------
    view : ImageView
        The image view the commands act on.
    session : ReadingSession
        Tells whether the image on show has several frames.
    reading : ReadingController
        Steps through images and frames.
    settings : ViewerSettings
        Keeps what the wheel does for next time.
    status : StatusArea
        Names the window a preset chose.
    """

    def __init__(
        self,
        view: ImageView,
        session: ReadingSession,
        reading: ReadingController,
        settings: ViewerSettings,
        status: StatusArea,
    ) -> None:
        self._view, self._session, self._reading = view, session, reading
        self._settings, self._status = settings, status

    def apply_preset(self, index: int) -> None:
        """Window preset ``index`` (0-based: number key minus one), named in the status bar."""
        if self._view.apply_preset(index):
            self._status.showMessage(f"Window: {self._view.window_text}", 3000)

    def end_measuring(self) -> None:
        """Remove the image's measurements and stop measuring (the Measure action follows)."""
        self._view.clear_measurement()
        self._view.set_measuring(False)

    def set_wheel_steps(self, on: bool) -> None:
        """The wheel steps through images (Ctrl+wheel zooms), or the other way round."""
        self._view.viewbox.wheel_steps = on
        self._settings.wheel_steps_images = on

    def step_by_wheel(self, delta: int) -> None:
        """One wheel step: a multi-frame image's frames first, else the next image."""
        current = self._session.current
        if current is not None and current.frames > 1:
            self._reading.step_frame(delta)
        else:
            self._reading.step_image(delta)
