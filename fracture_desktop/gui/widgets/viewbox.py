"""A pyqtgraph ViewBox with reading-room mouse gestures."""

from __future__ import annotations

import pyqtgraph as pg
import pyqtgraph.functions as fn
from pyqtgraph.Point import Point
from PySide6.QtCore import QPointF, Qt, Signal


class ReadingViewBox(pg.ViewBox):
    """Left drag: window/level (or a measurement in measure mode); right, middle or
    Ctrl+left drag: pan; wheel: step through images, Ctrl+wheel: zoom toward the cursor
    (pyqtgraph's own zoom), or the other way round when :attr:`wheel_steps` is False.

    Signals carry raw gestures; the image view decides what they mean.
    """

    sig_window_drag = Signal(float, float)  # dx, dy in screen pixels since the last event
    sig_measure_drag = Signal(QPointF, QPointF, bool)  # start, current (scene), finished
    sig_wheel_step = Signal(int)  # +1: next (wheel turned toward the reader), -1: previous

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.measuring = False
        self.wheel_steps = True

    def wheelEvent(self, ev, axis=None) -> None:
        ctrl = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if ctrl == self.wheel_steps:  # Ctrl flips what the wheel does
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        if ev.delta():
            self.sig_wheel_step.emit(-1 if ev.delta() > 0 else 1)

    def mouseDragEvent(self, ev, axis=None) -> None:
        ev.accept()
        pan = ev.button() in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton) or (
            ev.modifiers() & Qt.KeyboardModifier.ControlModifier
        )
        if pan:
            self._pan(ev)
        elif ev.button() == Qt.MouseButton.LeftButton:
            if self.measuring:
                self.sig_measure_drag.emit(
                    ev.buttonDownScenePos(), ev.scenePos(), bool(ev.isFinish())
                )
            else:
                delta = ev.screenPos() - ev.lastScreenPos()
                self.sig_window_drag.emit(delta.x(), delta.y())

    def _pan(self, ev) -> None:
        # Same arithmetic as pyqtgraph's PanMode: screen delta mapped through the view.
        dif = (ev.pos() - ev.lastPos()) * -1
        tr = fn.invertQTransform(self.childGroup.transform())
        moved = tr.map(Point(dif)) - tr.map(Point(0, 0))
        self._resetTarget()
        self.translateBy(x=moved.x(), y=moved.y())
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])
