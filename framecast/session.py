"""``framecast.Session``: a server plus one target, broadcast from a background thread.

This follows narupatools' ``Session``: one object owns the server and one target at a time
(a single frame, a trajectory or a simulation). A background broadcaster sends clients only
the fields that changed, on its own real-time schedule, independent of the simulation loop.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
import traceback
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import quote

from traitlets import Bool, Float, HasTraits, Int, Unicode

from ._address import host_port, is_loopback
from ._display import make, mimebundle
from ._pacing import Pacer, check_interval
from ._threads import BackgroundTask, raise_if_failed
from .frame import FrameData
from .server.app import DEFAULT_ADDRESS, DEFAULT_PORT, FramecastServer
from .server.auth import TLSFiles, generate_token
from .server.limits import DEFAULT_LIMITS, Limits
from .server.state import SharedState
from .sessions import ClientSessions
from .targets.base import FrameSource, Playable
from .timeline import TimelineBase, Transition

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_FRAME_INTERVAL", "Session", "live_sessions"]

#: Seconds between two broadcasts: 30 frames per second, what the eye needs for motion.
DEFAULT_FRAME_INTERVAL = 1 / 30

#: Seconds over which the measured broadcast rate (``fps``) is averaged.
_FPS_WINDOW = 1.0

#: Seconds between two refreshes of the status traits while nothing is sent: widgets need
#: about 10 Hz, and a trait only notifies when its value changes.
_STATUS_INTERVAL = 0.1

# Open sessions of this process, so that notebook links can find the session that shows a
# timeline. Weak: forgetting a session does not keep it alive.
_LIVE: weakref.WeakSet[Session] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def live_sessions() -> list[Session]:
    """The sessions of this process that are not closed, oldest first is not guaranteed."""
    with _LIVE_LOCK:
        return [session for session in _LIVE if not session.closed]


class Session(HasTraits):
    """A framecast server showing one target at a time.

    Parameters
    ----------
    target
        A :class:`~framecast.FrameData`, a :class:`~framecast.Trajectory`, a
        :class:`~framecast.Simulation`, or any object with a ``frame`` attribute.
    autoplay
        If the target is playable, start it when it is shown and not already running.
    name
        The session's name.
    address, port
        Where the server listens: ``127.0.0.1`` and 38801 by default; port 0 picks a free
        port.
    frame_interval
        Seconds between two broadcasts at most often (default 1/30 s; above 0, at most
        3,600).
    follow_transitions
        When True, a transition of the target's timeline published through
        :attr:`sessions` pauses the target and seeks it to that transition's first frame,
        so every client sees it.
    token, tls, limits
        Security, as the notebook server does it: ``token`` (default: none on a loopback
        address, and a random one, printed and kept in :attr:`token`, on any other; ``""``
        turns it off, with a warning off loopback), ``tls=(certfile, keyfile)`` (PEM) and
        ``limits`` (a :class:`~framecast.Limits`).

    The traits (``playing``, ``running``, ``frame_index``, ``clients``, ``fps``,
    ``error``, ``target_kind``, ``timeline``) follow the live status; notebook widgets link
    to them.
    """

    name = Unicode(read_only=True, help="Name of the session.")
    address = Unicode(read_only=True, help="URL or IP address the server is broadcasting at.")
    port = Int(read_only=True, help="Port the session is broadcasting on.")
    playing = Bool(False, read_only=True, help="True while the target plays.")
    running = Bool(False, read_only=True, help="True while the target's loop exists.")
    frame_index = Int(0, read_only=True, help="Frame index of the last broadcast.")
    clients = Int(0, read_only=True, help="Clients subscribed to frames now.")
    fps = Float(0.0, read_only=True, help="Frames broadcast per second, measured.")
    target_kind = Unicode("none", read_only=True, help="Class name of the target, or 'none'.")
    timeline = Unicode("", read_only=True, help="Timeline id of the target, or ''.")
    error = Unicode("", read_only=True, help="Traceback of a failed background thread, or ''.")

    def __init__(
        self,
        target: object = None,
        *,
        autoplay: bool = True,
        name: str = "framecast",
        address: str = DEFAULT_ADDRESS,
        port: int = DEFAULT_PORT,
        frame_interval: float = DEFAULT_FRAME_INTERVAL,
        follow_transitions: bool = False,
        token: str | None = None,
        tls: TLSFiles | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        frame_interval = check_interval(float(frame_interval), "frame_interval", allow_zero=False)
        super().__init__()
        self.autoplay = autoplay
        self.frame_interval = frame_interval
        address = str(address)
        token, generated = _choose_token(token, address)
        self._token = token
        self._token_generated = generated
        self._tls = tls is not None
        self._app = FramecastServer(
            address=address,
            port=int(port),
            token=token,
            tls=tls,
            limits=limits,
        )
        if token and not self._tls and not is_loopback(address):
            warnings.warn(
                f"serving on {address} without TLS: the token travels in clear text, so "
                "anyone on the network path can read it; pass tls=(certfile, keyfile)",
                UserWarning,
                stacklevel=2,
            )
        if generated:
            # As the notebook server does: the one place the token is shown is the console of
            # whoever started the server. It never goes to a log.
            print(f"framecast: serving at {self.url}", file=sys.stderr, flush=True)
        self.set_trait("name", str(name))
        self.set_trait("address", self._app.address)
        self.set_trait("port", self._app.port)
        self._target: object = None
        self._frame: FrameData | None = None
        # Set by the shown frame on every change (and by close()): the broadcaster sleeps
        # on it, so a change is sent as soon as it is written, within the rate cap.
        self._wake = threading.Event()
        self._unlisten: Callable[[], None] = _nothing
        # Held while the target is swapped or its changes are published, so that a delta of
        # the old target can never follow the reset of the new one.
        self._target_lock = threading.RLock()
        self._close_lock = threading.Lock()
        self._closed = threading.Event()
        # Written by the broadcaster only; other threads read the float.
        self._sent_times: deque[float] = deque()
        self._measured_fps = 0.0
        self._observer_error: Exception | None = None
        self._hook_error: Exception | None = None
        self._register_playback_commands()
        self._sessions = ClientSessions(
            self._app.sessions,
            self._app.timelines,
            particle_count=self._particle_count,
            on_hook_error=self._hook_failed,
        )
        self.follow_transitions = bool(follow_transitions)
        self._sessions.on_transition(self._follow)
        self._broadcaster = BackgroundTask("framecast-broadcaster", self._broadcast_loop)
        try:
            if target is not None:
                self.show(target)
            self._broadcaster.start()
        except BaseException:
            self.close()
            raise
        with _LIVE_LOCK:
            _LIVE.add(self)

    # -- attributes of the seed -------------------------------------------------------------------
    @property
    def app(self) -> FramecastServer:
        """Underlying framecast server application."""
        return self._app

    @property
    def token(self) -> str:
        """The token a client must present, or ``""`` when the server asks for none."""
        return self._token

    @property
    def token_generated(self) -> bool:
        """True when framecast made up :attr:`token` (the only case in which it prints it)."""
        return self._token_generated

    @property
    def url(self) -> str:
        """``framecast://host:port``, with ``?token=...`` when a token is needed: what
        ``framecast.Client`` and ``framecast watch`` accept. Over TLS a client also needs
        the certificate it should trust (``tls=``)."""
        host = self._app.address
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()  # every interface: name this machine instead
        url = f"framecast://{host_port(host, self._app.port)}"
        return f"{url}?token={quote(self._token, safe='')}" if self._token else url

    @property
    def shared_state(self) -> SharedState:
        """Shared state of the session."""
        return self._app.shared_state

    @property
    def sessions(self) -> ClientSessions:
        """The named client sessions of this server (REVEN's ``Sessions``)."""
        return self._sessions

    @property
    def target(self) -> object:
        """Target which is being broadcast by this session."""
        return self._target

    @target.setter
    def target(self, value: object) -> None:
        self.show(value)

    # -- showing ----------------------------------------------------------------------------------
    def show(self, target: object, /) -> None:
        """Broadcast an object, replacing the previous target if present.

        Clients receive the new frame as a reset, so no key of the old target survives.
        A playable previous target is stopped; a playable new one is started when
        ``autoplay`` is set and it is not running yet.
        """
        frame = _frame_of(target)
        with self._target_lock:
            previous = self._target
            if previous is not target and isinstance(previous, Playable):
                previous.stop()
            self._target = target
            self._frame = frame
            self._unlisten()
            self._unlisten = frame.on_change(self._wake.set)
            if isinstance(target, TimelineBase):
                self._app.timelines.add(target)
            self._app.frames.publish(frame.take_all())
            with self.hold_trait_notifications():
                self.set_trait("target_kind", type(target).__name__)
                self.set_trait(
                    "timeline", target.timeline_id if isinstance(target, TimelineBase) else ""
                )
                self.set_trait("error", "")
        if self.autoplay and isinstance(target, Playable) and not target.is_running:
            target.run()
        self._refresh_status()

    # -- playback controls ------------------------------------------------------------------------
    def _playable(self) -> Playable:
        target = self._target
        if not isinstance(target, Playable):
            kind = "no target" if target is None else f"the target ({type(target).__name__})"
            raise RuntimeError(f"{kind} is not playable: it has no play/pause/step controls")
        return target

    def _control(self, action: Callable[[Playable], None]) -> None:
        action(self._playable())
        self._refresh_status()

    def play(self) -> None:
        """Play the target if it is a playable object."""
        self._control(lambda t: t.play())

    def pause(self) -> None:
        """Pause the target if it is a playable object."""
        self._control(lambda t: t.pause())

    def step(self) -> None:
        """Step the target if it is a playable object."""
        self._control(lambda t: t.step())

    def restart(self) -> None:
        """Restart the target if it is a playable object."""
        self._control(lambda t: t.restart())

    def stop(self) -> None:
        """Stop the target if it is a playable object."""
        self._control(lambda t: t.stop())

    def run(self, *, block: bool = False) -> None:
        """Run the target if it is a playable object.

        Raises ``RuntimeError`` when the target is not an instance of ``Playable``. With
        ``block=True`` this returns when the target is stopped.
        """
        target = self._playable()
        if block:
            target.run(block=True)
            self._refresh_status()
        else:
            self._control(lambda t: t.run())

    def step_back(self) -> None:
        """Show the previous frame of a target that has one (a trajectory)."""
        target = self._playable()
        step_back = getattr(target, "step_back", None)
        if step_back is None:
            raise RuntimeError(f"the target ({type(target).__name__}) cannot step back")
        step_back()
        self._refresh_status()

    def seek(self, frame: int) -> None:
        """Pause the target and show its frame ``frame`` (a trajectory, a recorded history).

        Raises ``RuntimeError`` for a target that cannot seek, and ``IndexError`` for a
        frame it does not have.
        """
        target = self._target
        seek = getattr(target, "seek", None)
        if not callable(seek):
            raise RuntimeError(f"the target ({type(target).__name__}) cannot seek")
        if isinstance(target, Playable):
            target.pause()
        seek(frame)
        self._refresh_status()

    def _follow(self, transition: Transition) -> None:
        """Seek the target to a published transition of its own timeline, if following."""
        target = self._target
        if not self.follow_transitions or not isinstance(target, TimelineBase):
            return
        if transition.timeline.timeline_id != target.timeline_id:
            return  # another timeline: viewers decide, the session plays on
        if callable(getattr(target, "seek", None)):
            self.seek(transition.id)

    def _particle_count(self) -> int | None:
        frame = self._frame
        return None if frame is None else frame.particle_count or None

    def _register_playback_commands(self) -> None:
        commands = {
            "playback/play": (self.play, "Play the target."),
            "playback/pause": (self.pause, "Pause the target."),
            "playback/step": (self.step, "Advance the target by one frame."),
            "playback/step_back": (self.step_back, "Go back one frame (timelines)."),
            "playback/reset": (self.restart, "Restart the target from its beginning."),
            "playback/stop": (self.stop, "Stop the target's playback loop."),
        }
        for name, (callback, description) in commands.items():
            self._app.register_command(name, callback, description=description)

    # -- health -----------------------------------------------------------------------------------
    @classmethod
    def check_task(cls, task: Future[Any] | None) -> None:
        """Check if a task has thrown an exception, and reraise it if so."""
        raise_if_failed(task)

    def health_check(self) -> None:
        """Check background tasks to ensure they have not encountered an exception.

        Re-raises, on the calling thread, an exception raised by the broadcaster or by the
        target's own playback thread. A callback observing the session's traits that raised
        (once, since the last check) gets a ``RuntimeError`` from it; it did not stop the
        broadcast. Does nothing when all is well.
        """
        self.check_task(self._broadcaster.future)
        if (error := self._observer_error) is not None:
            self._observer_error = None  # reported once
            raise RuntimeError(f"an observer of the session's traits failed: {error!r}") from error
        if (error := self._hook_error) is not None:
            self._hook_error = None  # reported once
            raise RuntimeError(f"a transition hook failed: {error!r}") from error
        target_check = getattr(self._target, "health_check", None)
        if callable(target_check):
            target_check()

    # -- the broadcaster --------------------------------------------------------------------------
    def _broadcast_loop(self, stop: threading.Event) -> None:
        """Send each change when it is written, at most once per ``frame_interval``.

        The loop sleeps on ``_wake``, which the frame sets on every write. A change is sent
        at once if ``frame_interval`` has passed since the last send, otherwise at
        ``last_send + frame_interval`` at the latest (see :class:`~framecast._pacing.Pacer`
        for the jitter it forgives); writes meanwhile merge in the frame's dirty set
        (latest wins). The producer only sets an event: it never waits for this thread or
        the network. The wait's timeout is the 10 Hz status refresh, not a poll for frames.
        """
        pacer = Pacer(self.frame_interval)
        next_status = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if self._wake.is_set():
                wait = pacer.delay(now)
                if wait > 0:
                    stop.wait(wait)  # the rate cap: later writes merge meanwhile
                    continue
                # Cleared before taking, so that a write during the send wakes us again.
                self._wake.clear()
                if self._broadcast_once():
                    pacer.spend(now)
            if now >= next_status:
                self._refresh_status()
                next_status = time.monotonic() + _STATUS_INTERVAL
            self._wake.wait(max(0.0, next_status - time.monotonic()))

    def _broadcast_once(self) -> bool:
        """Publish what changed in the shown frame; return True if anything was sent."""
        with self._target_lock:
            frame = self._frame
            if frame is None:
                return False
            changes = frame.take_changes()
            if not changes.fields and not changes.reset:
                return False
            self._app.frames.publish(changes)
        now = time.monotonic()
        self._sent_times.append(now)
        while self._sent_times[0] < now - _FPS_WINDOW:
            self._sent_times.popleft()
        self._measured_fps = len(self._sent_times) / _FPS_WINDOW
        return True

    def _refresh_status(self) -> None:
        """Copy the live status into the traits (a trait only notifies when it changes)."""
        target = self._target
        playing = isinstance(target, Playable) and target.is_playing
        running = isinstance(target, Playable) and target.is_running
        frame = self._frame
        if self._sent_times and self._sent_times[-1] < time.monotonic() - _FPS_WINDOW:
            self._measured_fps = 0.0  # nothing changed for a while: paused or idle
        try:
            with self.hold_trait_notifications():
                self.set_trait("playing", playing)
                self.set_trait("running", running)
                self.set_trait("frame_index", 0 if frame is None else frame.index)
                self.set_trait("clients", self._app.frames.subscriber_count)
                self.set_trait("fps", round(self._measured_fps, 1))
                self.set_trait("error", self._failure_text())
        except Exception as error:  # a user's observer must not stop the broadcast
            # The clients keep getting frames; health_check() reports the first failure.
            if self._observer_error is None:
                self._observer_error = error
                log.exception("a Session observer failed; the session keeps broadcasting")

    def _hook_failed(self, error: Exception) -> None:
        """Keep the first failure of a transition hook for :meth:`health_check`."""
        if self._hook_error is None:
            self._hook_error = error

    def _failure_text(self) -> str:
        futures = [self._broadcaster.future]
        task = getattr(self._target, "task", None)
        if isinstance(task, BackgroundTask):
            futures.append(task.future)
        for future in futures:
            if future.done() and not future.cancelled() and (error := future.exception()):
                return "".join(traceback.format_exception(error))
        return ""

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed.is_set()

    def close(self) -> None:
        """Remove the current target and close down the server and background tasks.

        Idempotent. Afterwards no thread of this session runs and its port is free.
        """
        with self._close_lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._broadcaster.stop_event.set()
        self._wake.set()
        self._broadcaster.stop()
        with self._target_lock:
            target, self._target, self._frame = self._target, None, None
            self._unlisten()
            self._unlisten = _nothing
        if isinstance(target, Playable):
            target.stop()
        self._app.close()

    @classmethod
    @contextmanager
    def start(cls, **kwargs: Any) -> Generator[Session, None, None]:
        """Start a session as a context manager, calling close() after completion."""
        session = cls(**kwargs)
        try:
            yield session
        finally:
            session.close()

    def start_loop(self) -> None:
        """Run an infinite loop waiting for a keyboard interruption.

        This checks the health of the session every second to catch any exceptions
        occurring on one of the background threads. It also returns when the session is
        closed from another thread.
        """
        try:
            while not self._closed.wait(1.0):
                self.health_check()
        except KeyboardInterrupt:
            return

    # The notebook layer sits above this one: it registers how a session displays, and
    # what controls() and view() make, in the hook table of framecast._display.
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        """In a notebook, a session shows as its control bar (see :meth:`controls`)."""
        return mimebundle(self, **kwargs)

    def controls(self) -> Any:
        """The notebook control bar of this session (an ipywidgets widget)."""
        return make("controls", self)

    def view(self, listen: str = "notebook", **kwargs: Any) -> Any:
        """A 3D view of this session in the notebook (a ``Viewer`` widget).

        The view is itself a client: it receives frames in-process and listens on the
        named session ``listen``, so published transitions move it.
        """
        return make("viewer", self, listen, **kwargs)

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("playing" if self.playing else "paused")
        return (
            f"<Session {self.name!r} at {self._app.target}, target={self.target_kind}, "
            f"{state}, {self.clients} client(s)>"
        )


def _choose_token(token: object, address: str) -> tuple[str, bool]:
    """The token to require and whether it was generated (see :class:`Session`)."""
    if token is None:
        if is_loopback(address):
            return "", False
        return generate_token(), True
    if not isinstance(token, str):
        raise TypeError(f"token must be a string, got {type(token).__name__}")
    if not token:
        if not is_loopback(address):
            warnings.warn(
                f"token='' turns authentication off on {address}: any process that reaches "
                "the port may run commands, change the shared state and publish to every "
                "session",
                UserWarning,
                stacklevel=3,
            )
        return "", False
    if not token.isascii() or not token.isprintable():
        raise ValueError("token must be printable ASCII (it travels as gRPC metadata)")
    return token, False


def _nothing() -> None:
    """The listener removal of a session that shows nothing."""


def _frame_of(target: object) -> FrameData:
    if isinstance(target, FrameData):
        return target
    if isinstance(target, FrameSource):
        frame = target.frame
        if isinstance(frame, FrameData):
            return frame
    raise TypeError(
        f"cannot show {type(target).__name__}: a target is a FrameData, a Trajectory, a "
        "Simulation, or an object with a `frame` attribute that is a FrameData"
    )
