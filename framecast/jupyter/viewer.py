"""``Viewer``: a 3D view in the notebook that is itself a framecast client.

The viewer subscribes to a session's frames, in-process when the session lives in this
kernel (through the server's transport-free cores) and over gRPC otherwise. It joins a
named session (``"default"`` by default, the one a session tracks from the start), so a
published transition, or a click on a link in the notebook, moves it to that frame, and a
published selection highlights those particles; ``sessions.active()`` then lists it.

Frames reach the browser as binary buffers (never base64 or JSON arrays), only the changed
fields after the first, and at most ``max_rate`` times a second. The page acknowledges each
frame it has taken in, and the kernel keeps at most ``MAX_UNACKED`` frames in flight: when
the page (or the server between) is slower than the session, updates merge latest-wins on
the kernel side instead of queueing on the way, so the view shows the latest frame with a
bounded delay, and no size of system trips the IOPub limits.

When the session shows a :class:`~framecast.Trajectory`, the viewer also sends its positions
once, in chunks, to a cache in the page (bounded by ``cache_bytes``). The page then plays and
scrubs those frames on its own clock, with no kernel round trip, so playback goes on while a
cell keeps the kernel busy; and frames the page holds are sent as an index only.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from traitlets import Bool, CaselessStrEnum, Int, Unicode

from framecast._support.threads import BackgroundTask
from framecast.client.client import Client
from framecast.core.publisher import FramePublisher
from framecast.frame import FrameData, FrameUpdate
from framecast.jupyter import channel
from framecast.jupyter.drawn import drawn_buffers
from framecast.jupyter.movie import record_movie
from framecast.jupyter.page_cache import DEFAULT_CACHE_BYTES, PageCache
from framecast.jupyter.representing import Representing
from framecast.jupyter.rich import RichView
from framecast.jupyter.screenshots import Screenshots
from framecast.jupyter.widget import STATIC, FramecastWidget
from framecast.messages import SelectionEvent, SessionEvent
from framecast.session.representations import ServerStore
from framecast.session.session import Session
from framecast.targets.trajectory import Trajectory
from framecast.timeline import TIMELINE_KEY
from framecast.transports.security import PEM
from framecast.wire.events import decode_event

__all__ = ["Viewer", "ack_request"]

log = logging.getLogger(__name__)

#: How the view may colour particles.
COLOR_SCHEMES = ("element", "residue", "chain")

#: Frames sent that the page has not acknowledged yet, at most.
MAX_UNACKED = 2
#: With no acknowledgement for this long (no page shows the viewer, or it went away), send
#: one frame more anyway: a page that comes later says hello, which resets the count.
ACK_TIMEOUT = 2.0


class Viewer(Representing, FramecastWidget):
    """A 3D view of a session's frames: spheres coloured by element, bonds and the box.

    Parameters
    ----------
    source
        A :class:`~framecast.Session` of this kernel, or the ``"host:port"`` or
        ``framecast://host:port?token=...`` URL of a server (``session.url``).
    token, tls
        For a remote server: as for :class:`~framecast.Client`.
    listen
        The named session this viewer joins: published transitions and selections on it
        move and highlight the view.
    max_rate
        Frames sent to the browser per second at most.
    cache_bytes
        Memory the page may use to cache a trajectory's positions (default 256 MiB; 0 turns
        the cache off). A trajectory larger than this is cached from its first frame up to
        the budget; the other frames stream from the kernel as they play.
    """

    _esm = STATIC / "viewer.js"

    listen = Unicode("default", help="The named session this viewer listens on.").tag(sync=True)
    frame_index = Int(0, help="The frame index of the last frame sent.").tag(sync=True)
    particle_count = Int(0).tag(sync=True)
    height = Int(420, help="Height of the view in pixels.").tag(sync=True)
    in_process = Bool(False, help="True when the session lives in this kernel.").tag(sync=True)
    spin = Bool(False, help="Turn the camera slowly around the system.").tag(sync=True)
    color_by = CaselessStrEnum(
        COLOR_SCHEMES,
        default_value="element",
        help="Colour particles by element (Jmol colours), residue (a rainbow along the "
        "chain) or chain.",
    ).tag(sync=True)
    hide_solvent = Bool(
        True,
        help="Hide water and ions (the toolbar's choice), when the system has something "
        "else to show.",
    ).tag(sync=True)
    default_representation = Bool(
        True,
        help="With no representation set on the session: draw a protein or nucleic acid "
        "as a cartoon and ligands as ball-and-stick (False: spheres and bonds only).",
    )
    cached_frames = Int(
        0, help="Frames of the trajectory on show sent to the page's cache so far."
    ).tag(sync=True)
    ended = Unicode(
        "",
        help="Why nothing more will come (the session closed, the server went), or '': the "
        "view says so and stops playing.",
    ).tag(sync=True)

    def __init__(
        self,
        source: Session | str,
        listen: str = "default",
        *,
        max_rate: float = 30.0,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        token: str | None = None,
        tls: bool | PEM | None = None,
        **kwargs: Any,
    ) -> None:
        if not max_rate > 0:
            raise ValueError(f"max_rate must be > 0 frames/s, got {max_rate}")
        if isinstance(cache_bytes, bool) or not isinstance(cache_bytes, int) or cache_bytes < 0:
            raise ValueError(f"cache_bytes must be an int >= 0, got {cache_bytes!r}")
        super().__init__(listen=listen, **kwargs)
        self._interval = 1.0 / max_rate
        self._session: Session | None = None
        # The timeline of the frames being sent.
        self._timeline: str | None = None
        self._flow = threading.Condition()
        self._unacked = 0
        self._stopping = threading.Event()
        self._send_lock = threading.Lock()
        self._cache = PageCache(
            cache_bytes,
            lambda: self._session.target if self._session is not None else None,
            self._send_locked,
            self._send_lock,
            lambda frames: setattr(self, "cached_frames", frames),
        )
        self._client: Client | None = None
        self._tasks: list[BackgroundTask] = []
        self._exits = ExitStack()
        self._closed = False
        # Publish time of the last transition shown: live deltas published before it are
        # older than what the view shows, and would undo it.
        self._pinned_until = 0.0
        self._full_frame: Callable[[], FrameUpdate | None] = lambda: None
        self._fields: Callable[[], Mapping[str, Any]] = dict
        self._rich = RichView(lambda: self._fields(), self._send_rich)
        self._store: Any = None
        self._rich.defaults = self.default_representation
        self.observe(self._defaults_changed, names="default_representation")
        #: Screenshot requests waiting for a view's answer (``screenshot_request``).
        self.shots = Screenshots()
        try:
            if isinstance(source, Session):
                self.in_process = True
                self._start_in_process(source)
            elif isinstance(source, str):
                self._start_remote(source, token, tls)
            else:
                raise TypeError(
                    f"a Viewer shows a framecast.Session or a 'host:port' address, got "
                    f"{type(source).__name__}"
                )
        except BaseException:
            self.close()  # no widget, thread or connection left behind by a refused source
            raise

    # -- in-process: the server's cores, no socket ------------------------------------------------
    def _start_in_process(self, session: Session) -> None:
        if session.closed:
            raise RuntimeError("the session is closed: start a new framecast.Session")
        self._session = session
        closed = functools.partial(self._end, "the session is closed: start a new one")
        session.on_close(closed)
        self._exits.callback(session.on_close, closed, remove=True)
        app = session.app
        # The publisher's own values, merged latest-wins: nothing is encoded or parsed,
        # and this view is not one of the session's network clients.
        self._full_frame = app.frames.current_update
        self._fields = lambda: app.frames.current_update().fields
        self._store = ServerStore(session.shared_state)
        self._follow_representations(session.shared_state.tap)
        frames = self._exits.enter_context(app.frames.watch())
        events = self._exits.enter_context(app.sessions.join(self.listen, pinned=True))

        def pump_frames(stop: threading.Event) -> None:
            while not stop.is_set() and self._wait_for_page(stop):
                if (pending := frames.take()) is None:
                    return
                self._show(FramePublisher.update(pending))
                if stop.wait(self._interval):  # merged latest-wins meanwhile
                    return

        def context(timeline_id: str, transition: int) -> FrameData | None:
            timeline = app.timelines.get(timeline_id)
            # A timeline this kernel does not know: nothing to show.
            return None if timeline is None else timeline.context_before(transition)

        def pump_events(stop: threading.Event) -> None:
            while not stop.is_set() and (pending := events.take()) is not None:
                for raw in pending.fields.values():
                    event = decode_event(self.listen, raw, time.time())
                    if event is not None:
                        self._event(event, context)

        self._start_task("framecast-viewer-frames", pump_frames, self._closing(frames.close))
        self._start_task("framecast-viewer-events", pump_events, events.close)

    def _end(self, why: str) -> None:
        """Nothing more will come: the page says ``why`` and stops playing its cache."""
        with self._send_lock:
            if not self._closed and not self.ended:
                self.ended = why

    # -- remote: a framecast.Client ---------------------------------------------------------------
    def _start_remote(self, address: str, token: str | None, tls: bool | PEM | None) -> None:
        client = Client(address, token=token, tls=tls)
        self._client = client

        def full() -> FrameUpdate:
            frame = client.frame
            return FrameUpdate(frame.index, frame.snapshot(), True, 0.0)

        self._full_frame = full
        self._fields = lambda: client.frame.snapshot()
        self._store = client.shared_state
        self._follow_representations(client.shared_state.tap)

        def on_update(update: FrameUpdate) -> None:
            # Blocking here backs up the stream; the server merges the updates meanwhile.
            if self._wait_for_page(self._stopping):
                self._show(update)

        def on_event(event: SessionEvent) -> None:
            self._event(event, client.context)

        client.join(self.listen, on_transition=on_event, on_selection=on_event)
        client.subscribe_frames(on_update, interval=self._interval)

        def watch_the_stream(stop: threading.Event) -> None:
            # The stream ends when the server goes (or this viewer closes the client).
            while not stop.is_set():
                if client.frames_ended.wait(0.5):
                    self._end(f"the server at {client.address} went away: view it again")
                    return

        self._start_task("framecast-viewer-ended", watch_the_stream, lambda: None)

    # -- representations --------------------------------------------------------------------------
    def _follow_representations(self, tap: Callable[..., Callable[[], None]]) -> None:
        """Send the page the representations whenever the shared state's change."""
        self._exits.callback(self._rich.follow(tap))

        def send_changes(stop: threading.Event) -> None:
            while not stop.is_set():
                if self._rich.changed.wait(0.5) and not stop.is_set():
                    self._rich.changed.clear()
                    self._rich.send()

        self._start_task("framecast-viewer-representations", send_changes, self._rich.changed.set)

    def _defaults_changed(self, change: Mapping[str, Any]) -> None:
        self._rich.defaults = bool(change["new"])
        self._rich.changed.set()

    def _send_rich(self, content: dict[str, Any], buffers: list[Any]) -> None:
        with self._send_lock:
            if not self._closed:
                self.send(content, buffers=buffers)

    # -- shared -----------------------------------------------------------------------------------
    def _wait_for_page(self, stop: threading.Event) -> bool:
        """Wait until fewer than ``MAX_UNACKED`` frames are in flight (or ``ACK_TIMEOUT``
        passed). False when the viewer is stopping."""
        with self._flow:
            self._flow.wait_for(
                lambda: self._unacked < MAX_UNACKED or stop.is_set(), timeout=ACK_TIMEOUT
            )
            return not stop.is_set()

    def acknowledge(self) -> None:
        """The page has taken in one more frame."""
        with self._flow:
            self._unacked = max(0, self._unacked - 1)
            self._flow.notify_all()

    def _closing(self, close: Callable[[], None]) -> Callable[[], None]:
        """``close``, then wake a pump that waits for the page."""

        def wake() -> None:
            close()
            with self._flow:
                self._flow.notify_all()

        return wake

    def _start_task(
        self, name: str, body: Callable[[threading.Event], None], wake: Callable[[], None]
    ) -> None:
        task = BackgroundTask(name, body)
        self._tasks.append(task)
        self._exits.callback(wake)
        task.start()

    def _event(self, event: SessionEvent, context: Callable[[str, int], FrameData | None]) -> None:
        """Show a published event: a selection, or the frame before a transition, which
        ``context(timeline, transition)`` finds (None: nothing to show)."""
        if isinstance(event, SelectionEvent):
            self._select(list(event.particles))
        elif (frame := context(event.timeline, event.transition)) is not None:
            self._show_transition(frame.index, event.publish_time, frame.snapshot())

    def _show_transition(self, index: int, published: float, fields: dict[str, Any]) -> None:
        with self._send_lock:
            self._pinned_until = max(self._pinned_until, published)
        self._show(FrameUpdate(index, fields, True, published), pin=True)

    def _show(self, update: FrameUpdate, *, pin: bool = False) -> None:
        """Send the drawn fields of an update to the browser as binary buffers. Positions
        the page has cached are left out (``"cached": true``): the index says which."""
        if not pin and not update.reset and update.publish_time < self._pinned_until:
            return  # a live frame older than the transition on show
        timeline = update.fields.get(TIMELINE_KEY)
        timeline = timeline if isinstance(timeline, str) else None
        with self._send_lock:
            # A transition (pin) of another timeline is shown once; the live frames that
            # follow are still of the target's timeline.
            new_timeline = update.reset and timeline != self._timeline and not pin
            if (update.reset or timeline is not None) and not pin:
                self._timeline = timeline
            cached = not update.reset and self._cache.holds(self._timeline, update.frame_index)
        meta, buffers = drawn_buffers(update.fields, skip_positions=cached)
        content = {
            "type": "frame",
            "index": update.frame_index,
            "reset": update.reset,
            "fields": meta,
            "timeline": timeline,
            "cached": cached and "particle.positions" in update.fields,
            "jump": pin,
            "playback": self._playback(),
        }
        positions = update.fields.get("particle.positions")
        with self._send_lock:
            if self._closed:
                return
            if isinstance(positions, np.ndarray):
                self.particle_count = int(positions.shape[0])
            self.frame_index = int(update.frame_index)
            with self._flow:
                self._unacked += 1
            self.send(content, buffers=buffers)
        if update.reset and not pin:
            self._rich.changed.set()  # another topology: its default, its structure
        if new_timeline and timeline is not None:
            # The session shows another target. Its frame went first: the page follows its
            # timeline from that frame on, and takes only cache chunks of that timeline.
            self._offer_cache(None)

    def _playback(self) -> dict[str, Any] | None:
        """How the target plays, so that the page's clock can go on while the kernel is
        busy: ``playing``, ``fps`` and ``mode`` of a trajectory of this kernel."""
        target = self._session.target if self._session is not None else None
        if not isinstance(target, Trajectory):
            return None
        return {"playing": target.is_playing, "fps": target.fps, "mode": target.mode}

    @property
    def client(self) -> Client | None:
        """The client of the remote session on show (None for this kernel's session)."""
        return self._client

    @property
    def controlled_session(self) -> Session | None:
        """The session of this kernel on show: the viewer's play bar drives it too."""
        return self._session

    def _fallback(self) -> str:
        where = "this kernel's session" if self.in_process else "a remote session"
        return f"a 3D view of {where}, listening on {self.listen!r}"

    def _page_message(self, content: Mapping[str, Any]) -> bool:
        """A view was drawn (``hello``): it gets the whole current frame, whatever it
        missed before it existed."""
        if content.get("kind") == "structure":
            self._rich.structure(bool(content.get("engine")))
            return True
        if content.get("kind") != "hello":
            return False
        self._hello(content)
        return True

    def _hello(self, content: Mapping[str, Any]) -> None:
        """A view was drawn: send it the whole current frame, and the trajectory's cache
        unless the page says it has it (``content["cache"]``)."""
        with self._flow:  # a new page: nothing of what was sent before is in flight
            self._unacked = 0
            self._flow.notify_all()
        frame = self._full_frame()
        if frame is not None:
            self._show(frame)
        self._rich.send()
        self._rich.send_annotations()
        have = content.get("cache")
        self._offer_cache(have if isinstance(have, dict) else None)

    def _offer_cache(self, have: dict[str, Any] | None) -> None:
        with self._send_lock:
            self._cache.offer(have, closed=self._closed)

    def _send_locked(self, content: dict[str, Any], buffers: list[memoryview]) -> bool:
        """Send a message to the page (send lock held); False once the viewer is closed."""
        if self._closed:
            return False
        self.send(content, buffers=buffers)
        return True

    def screenshot(self, timeout: float = 10.0) -> Any:
        """A PNG of the view as the browser draws it now, displayed by the notebook.

        The view answers over the framecast channel (a kernel subshell), so this works from
        the cell that asks. Raises ``TimeoutError`` when no view answers: the viewer must
        be displayed in JupyterLab or Notebook 7 with the framecast extension.
        """
        from IPython.display import Image

        return Image(data=self.png(timeout), format="png")  # type: ignore[no-untyped-call]

    def png(self, timeout: float = 10.0) -> bytes:
        """The bytes of a PNG of the view as the browser draws it now (see
        :meth:`screenshot`)."""

        def ask(request: str) -> None:
            with self._send_lock:
                self.send({"type": "screenshot", "request": request})

        return self.shots.take(ask, timeout)

    def record_movie(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """A movie of the frames as this view draws them (``frames``, ``fps``, ``timeout``:
        see :func:`framecast.jupyter.movie.record_movie`); returns its path."""
        return record_movie(self, path, **options)

    def _select(self, particles: list[int]) -> None:
        with self._send_lock:
            if not self._closed:
                self.send({"type": "selection", "particles": particles})

    def close(self) -> None:
        """Leave the named session, stop the viewer's threads and close the widget."""
        if "_send_lock" not in self.__dict__:
            return  # refused by __init__ before anything started (ipywidgets' __del__ asks)
        with self._send_lock:
            if self._closed:
                return
            self._closed = True
            cache_task = self._cache.stop()
        self._stopping.set()
        with self._flow:
            self._flow.notify_all()
        tasks = [*self._tasks, *([cache_task] if cache_task is not None else [])]
        for task in tasks:
            task.stop_event.set()
        self._exits.close()  # closes the mailboxes, which wakes the pumps
        for task in tasks:
            task.stop()
        if self._client is not None:
            self._client.close()
        super().close()


def ack_request(data: Mapping[str, Any]) -> None:
    """The ``ack`` notification: a page took in a frame, so the viewer may send one more."""
    viewer = channel.widget(str(data.get("widget", "")))
    if isinstance(viewer, Viewer):
        viewer.acknowledge()
