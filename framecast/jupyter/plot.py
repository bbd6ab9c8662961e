"""``Plot``: series over a session's timeline, where a click sends every viewer there.

The plot is a widget (an anywidget drawing with uPlot). For a trajectory or a recording the
kernel computes every frame's values once (with a progress bar for long ones) and sends
them as binary buffers; for a live simulation it computes the history the engine keeps, then
appends each broadcast frame's values, so only the new points travel. A vertical playhead
follows the session's frame. A click on the plot goes there: the session seeks to that frame
(a live engine resumes from it) and the transition is published to the tracked named
sessions, so every viewer and listener follows; the page says how many received it.
Shift-click publishes without moving the session. Dragging selects a range:
``plot.selected`` is its :class:`~framecast.timeline.TransitionRange`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
from traitlets import Bool, Int, List, Unicode

from framecast._support.progress import progress
from framecast._support.threads import BackgroundTask
from framecast.core.publisher import FramePublisher
from framecast.jupyter import channel
from framecast.jupyter.series import Series, series_of
from framecast.jupyter.widget import STATIC, FramecastWidget
from framecast.session.session import Session
from framecast.targets.trajectory import Trajectory
from framecast.timeline import TIMELINE_KEY, TimelineBase, TransitionRange

__all__ = ["Plot", "plot_data", "plot_request"]

#: Points sent at most per second to the page while a simulation grows (merged between).
MAX_RATE = 20.0


class Plot(FramecastWidget):
    """Series of a :class:`~framecast.Session`'s frames over its timeline (see the module).

    Parameters
    ----------
    session
        A session of this kernel.
    series
        Frame keys (``"energy.potential"``), functions of a frame's fields, or
        :func:`framecast.distance` series.
    x
        ``"index"`` (the frame) or ``"time"`` (``system.simulation.time``, ps).
    progress
        Draw a progress bar while a long timeline is computed (None: where someone
        watches, after 2 s).
    """

    _esm = STATIC / "plot.js"

    height = Int(240, help="Height of the plot in pixels.").tag(sync=True)
    x_label = Unicode("frame").tag(sync=True)
    frame = Int(0, help="The frame the session shows (the playhead).").tag(sync=True)
    selected: List[int] = List(help="A dragged range of frames [first, last], or [].").tag(
        sync=True
    )
    points = Int(0, help="Points the plot holds.").tag(sync=True)
    timeline = Unicode("", help="The timeline on show: the page's playhead of it.").tag(sync=True)
    standalone = Bool(False, help="In a page with no kernel (an export).").tag(sync=True)

    def __init__(
        self,
        session: Session,
        *series: object,
        x: str = "index",
        height: int = 240,
        progress: bool | None = None,
    ) -> None:
        if not isinstance(session, Session):
            raise TypeError(
                f"a Plot shows a framecast.Session of this kernel, got {type(session).__name__}"
            )
        if session.closed:
            raise RuntimeError("the session is closed: start a new framecast.Session")
        if not series:
            raise ValueError("give at least one series: a frame key such as 'energy.potential'")
        if x not in ("index", "time"):
            raise ValueError(f"x is 'index' or 'time', got {x!r}")
        self._series: list[Series] = [series_of(spec) for spec in series]
        super().__init__(height=height, x_label="time (ps)" if x == "time" else "frame")
        self._session = session
        self._x = x
        self._progress = progress
        self._lock = threading.Lock()
        self._closed = False
        self._timeline: str | None = None
        self._frames: list[int] = []
        self._xs: list[float] = []
        self._ys: list[list[float]] = [[] for _ in self._series]
        self._last = -1
        self._exits: list[Any] = []
        frames = session.app.frames.watch()
        self._watch = frames.__enter__()
        self._exits.append(lambda: frames.__exit__(None, None, None))
        self._reset_from_target()
        self._task = BackgroundTask("framecast-plot", self._pump)
        self._task.start()
        session.on_close(self.close)

    # -- data ---------------------------------------------------------------------------------
    def _x_of(self, index: int, fields: Mapping[str, Any]) -> float:
        if self._x == "index":
            return float(index)
        time = fields.get("system.simulation.time")
        return float(time) if isinstance(time, (int, float)) else math.nan

    def _reset_from_target(self) -> None:
        """Compute the values of every frame the target holds now, and send them whole."""
        target = self._session.target
        indices: list[int] = []
        xs: list[float] = []
        ys: list[list[float]] = [[] for _ in self._series]
        last = -1
        columns = self._columns(target)
        if columns is not None:
            assert isinstance(target, Trajectory)
            frames = target.frame_range
            indices = list(frames)
            times = target.times
            if self._x == "index" or times is None:
                xs = [float(i) for i in frames] if self._x == "index" else [math.nan] * len(frames)
            else:
                xs = times.tolist()
            ys = [np.where(np.isfinite(c), c, np.nan).tolist() for c in columns]
            last = frames.stop - 1
            self._timeline = target.timeline_id
        elif isinstance(target, TimelineBase):
            frames = target.frame_range
            for index in progress(frames, total=len(frames), what="plot", show=self._progress):
                fields = target.context(index).snapshot()
                indices.append(index)
                xs.append(self._x_of(index, fields))
                for column, series in zip(ys, self._series, strict=True):
                    column.append(series.value(fields))
                last = index
            self._timeline = target.timeline_id
        else:
            self._timeline = None
        self.timeline = self._timeline or ""
        with self._lock:
            self._frames, self._xs, self._ys, self._last = indices, xs, ys, last
        self._send_all()

    def _columns(self, target: object) -> list[np.ndarray[Any, Any]] | None:
        """Every series' values at once, for a trajectory held in memory whose series all
        read whole columns (keys, distances); None: read frame by frame."""
        if not isinstance(target, Trajectory) or target.streamed:
            return None
        columns = [series.column(target) for series in self._series]
        if any(column is None or len(column) != target.frame_count for column in columns):
            return None
        return [column for column in columns if column is not None]

    def _send_all(self) -> None:
        with self._lock:
            if self._closed:
                return
            message, buffers = plot_data(self._series, self._frames, self._xs, self._ys)
            self.points = len(self._frames)
            self.send(message, buffers=buffers)

    def _pump(self, stop: threading.Event) -> None:
        """Follow the session's broadcasts: the playhead, and the live frames' values."""
        while not stop.is_set():
            pending = self._watch.take()
            if pending is None:
                return
            update = FramePublisher.update(pending)
            fields = self._session.app.frames.current_update().fields
            timeline = fields.get(TIMELINE_KEY)
            if update.reset and timeline != self._timeline:
                self._reset_from_target()  # another target
            self._append(update.frame_index, fields)
            if stop.wait(1.0 / MAX_RATE):
                return

    def _append(self, index: int, fields: Mapping[str, Any]) -> None:
        """A frame past the last point: its values travel alone (a few bytes a series)."""
        first = self._first_kept()
        with self._lock:
            if self._closed:
                return
            self.frame = int(index)
            if index <= self._last:
                return
            self._last = index
            x = self._x_of(index, fields)
            values = [series.value(fields) for series in self._series]
            self._frames.append(index)
            self._xs.append(x)
            for column, value in zip(self._ys, values, strict=True):
                column.append(value)
            if first is not None:  # the engine's bounded history: older points go
                drop = next((i for i, f in enumerate(self._frames) if f >= first), 0)
                if drop:
                    del self._frames[:drop]
                    del self._xs[:drop]
                    for column in self._ys:
                        del column[:drop]
            self.points = len(self._xs)
            self.send(
                {
                    "type": "plot-points",
                    "frame": [int(index)],
                    "x": [None if math.isnan(x) else x],
                    "y": [[None if math.isnan(v) else v] for v in values],
                    "first": first,
                }
            )

    def _first_kept(self) -> int | None:
        target = self._session.target
        if isinstance(target, TimelineBase):
            frames = target.frame_range
            return frames.start if len(frames) else None
        return None

    # -- what the page asks -------------------------------------------------------------------
    def _page_message(self, content: Mapping[str, Any]) -> bool:
        if content.get("kind") != "hello":
            return False
        self._send_all()
        return True

    def go(self, frame: int, *, publish: bool = True, move: bool = True) -> dict[str, Any]:
        """Send the session (``move``) and every listener (``publish``) to ``frame``; the
        reply the page shows: clients reached, the session's frame."""
        target = self._session.target
        if not isinstance(target, TimelineBase):
            return {"error": "the session shows no timeline to go to"}
        frames = target.frame_range
        if frame not in frames:
            return {"error": f"frame {frame} is not kept: frames {frames.start}..{frames.stop - 1}"}
        if target.transition_count == 0:
            return {"error": "the timeline has one frame: nothing to go to"}
        # Transition n shows frame n; the last frame is shown by the transition before it.
        transition = target.transition(min(frame, frames.stop - 2))
        if move and callable(getattr(target, "seek", None)):
            self._session.seek(frame)
        received = self._session.sessions.publish(transition) if publish else 0
        return {
            "received": received,
            "frame": self._session.frame_index,
            "playing": self._session.playing,
        }

    @property
    def values(self) -> dict[str, np.ndarray[Any, Any]]:
        """What the plot holds now: ``"frame"``, ``"x"`` and each series by name (NaN for
        a gap), as arrays of one length."""
        with self._lock:
            out = {"frame": np.asarray(self._frames), "x": np.asarray(self._xs)}
            for series, column in zip(self._series, self._ys, strict=True):
                out[series.name] = np.asarray(column)
            return out

    @property
    def selected_range(self) -> TransitionRange | None:
        """The dragged range as transitions (None when nothing is selected)."""
        target = self._session.target
        if len(self.selected) != 2 or not isinstance(target, TimelineBase):
            return None
        first, last = (int(v) for v in self.selected)
        return target.transitions(first, last + 1)

    @property
    def controlled_session(self) -> Session | None:
        return self._session

    def _fallback(self) -> str:
        names = ", ".join(series.name for series in self._series)
        return f"a plot of {names} over the session's timeline"

    def close(self) -> None:
        """Stop following the session and close the widget."""
        if "_lock" not in self.__dict__:
            return  # refused by __init__ before anything started (ipywidgets' __del__ asks)
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._task.stop_event.set()
        for exit_ in self._exits:
            exit_()
        self._task.stop()
        super().close()


def plot_data(
    series: list[Series], frames: list[int], xs: list[float], ys: list[list[float]]
) -> tuple[dict[str, Any], list[Any]]:
    """The page's ``plot-data`` message and its buffers: the frames, the x values, then
    each series, float64 (NaN is a gap)."""
    buffers = [np.asarray(frames, dtype="<f8").data, np.asarray(xs, dtype="<f8").data]
    buffers += [np.asarray(column, dtype="<f8").data for column in ys]
    message = {
        "type": "plot-data",
        "series": [{"name": s.name, "unit": s.unit} for s in series],
        "count": len(frames),
    }
    return message, buffers


def plot_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``plot`` handler: a click on a plot goes to ``data["frame"]`` (``publish`` and
    ``move`` say what a modified click leaves out)."""
    widget = channel.widget(str(data.get("widget", "")))
    if not isinstance(widget, Plot):
        return {"error": "this plot is no longer in the kernel: run its cell again"}
    frame = data.get("frame")
    if isinstance(frame, bool) or not isinstance(frame, int):
        return {"error": f"bad frame {frame!r}"}
    return widget.go(
        frame, publish=bool(data.get("publish", True)), move=bool(data.get("move", True))
    )
