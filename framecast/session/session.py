"""``framecast.Session``: a server plus one target, broadcast from a background thread.

This follows narupatools' ``Session``: one object owns the server and one target at a time
(a single frame, a trajectory or a simulation). A background broadcaster sends clients only
the fields that changed, on its own real-time schedule, independent of the simulation loop.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
import weakref
from collections.abc import Callable, Generator
from concurrent.futures import Future
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import numpy.typing as npt
from traitlets import Bool, Float, HasTraits, Int, Unicode

from framecast._support.display import make, marimo, mimebundle
from framecast._support.pacing import check_interval
from framecast._support.threads import BackgroundTask, OnceCallbacks, raise_if_failed
from framecast.core.limits import DEFAULT_LIMITS, Limits
from framecast.core.state import SharedState
from framecast.frame import FrameData
from framecast.recording.feeds import record_cores
from framecast.recording.recorder import Recorder
from framecast.session.access import SessionAccess
from framecast.session.app import DEFAULT_ADDRESS, DEFAULT_PORT, FramecastServer
from framecast.session.broadcaster import Broadcaster
from framecast.session.interactions import InteractionHandle, SessionInteractions
from framecast.session.named import ClientSessions
from framecast.session.playback import PlaybackControls
from framecast.session.replaying import listen_to
from framecast.session.representations import Representations, ServerStore
from framecast.targets.base import Playable, frame_of
from framecast.timeline import TimelineBase, Transition
from framecast.transports.grpc.auth import TLSFiles, choose_token

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_FRAME_INTERVAL", "Session", "live_sessions"]

#: Seconds between two broadcasts: 30 frames per second, what the eye needs for motion.
DEFAULT_FRAME_INTERVAL = 1 / 30

# Open sessions of this process, so that notebook links can find the session that shows a
# timeline. Weak: forgetting a session does not keep it alive.
_LIVE: weakref.WeakSet[Session] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def live_sessions() -> list[Session]:
    """The sessions of this process that are not closed, oldest first is not guaranteed."""
    with _LIVE_LOCK:
        return [session for session in _LIVE if not session.closed]


class Session(SessionAccess, PlaybackControls, HasTraits):
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
    nanover_port
        Also serve NanoVer's clients (VR iMD, its web and Python clients) over NanoVer's
        WebSocket protocol on this port (0: any free port; see :attr:`nanover_url`), with
        the same token, TLS and limits. Off by default; needs the ``nanover`` extra.
    relay
        Also publish to NATS at this URL (``nats://host:4222``), for viewers on other
        machines: see :meth:`relay` and :attr:`relay_url`. Needs the ``nats`` extra.

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
    clients = Int(0, read_only=True, help="Clients subscribed to frames now (NATS's too).")
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
        nanover_port: int | None = None,
        relay: str | None = None,
    ) -> None:
        frame_interval = check_interval(float(frame_interval), "frame_interval", allow_zero=False)
        super().__init__()
        self.autoplay = autoplay
        self.frame_interval = frame_interval
        address = str(address)
        token, generated = choose_token(token, address)
        self._token = token
        self._token_generated = generated
        self._tls = tls is not None
        self._app = FramecastServer(
            address=address,
            port=int(port),
            token=token,
            tls=tls,
            limits=limits,
            nanover_port=None if nanover_port is None else int(nanover_port),
            nanover_interval=frame_interval,
        )
        self._announce(address, self._tls)
        self.set_trait("name", str(name))
        self.set_trait("address", self._app.address)
        self.set_trait("port", self._app.port)
        if relay is not None:
            try:
                self.relay(relay)
            except BaseException:
                self._app.close()
                raise
        self._target: object = None
        self._frame: FrameData | None = None
        self._unlisten: Callable[[], None] = _nothing
        # Held while the target is swapped or its changes are published, so that a delta of
        # the old target can never follow the reset of the new one.
        self._target_lock = threading.RLock()
        self._close_lock = threading.Lock()
        self._closed = threading.Event()
        self._closing = OnceCallbacks()
        self._observer_error: Exception | None = None
        self._hook_error: Exception | None = None
        self._register_playback_commands()
        self._interactions = SessionInteractions(
            self.shared_state, lambda: self._target, self._particle_count
        )
        self._sessions = ClientSessions(
            self._app.sessions,
            self._app.timelines,
            particle_count=self._particle_count,
            frame_fields=lambda: self._app.frames.current_update().fields,
            on_hook_error=self._hook_failed,
        )
        self.follow_transitions = bool(follow_transitions)
        self._sessions.on_transition(self._follow)
        # The one writer of the status traits: others ask it (status_changed) and wait.
        self._broadcaster = Broadcaster(frame_interval, self._broadcast_once, self._refresh_status)
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
    def shared_state(self) -> SharedState:
        """Shared state of the session."""
        return self._app.shared_state

    @property
    def sessions(self) -> ClientSessions:
        """The named client sessions of this server (REVEN's ``Sessions``)."""
        return self._sessions

    @property
    def representations(self) -> Representations:
        """How every viewer of this session draws its particles (cartoon, licorice,
        hidden water...), kept in the shared state in NanoVer's selection keys."""
        return Representations(
            ServerStore(self.shared_state), lambda: self._app.frames.current_update().fields
        )

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
        frame = frame_of(target)
        with self._target_lock:
            self._check_open()  # under the lock: close() cannot come between
            previous = self._target
            if previous is not target and isinstance(previous, Playable):
                previous.stop()
            self._target = target
            self._frame = frame
            self._unlisten()
            self._unlisten = listen_to(
                self._sessions,
                self.shared_state,
                target,
                frame.on_change(self._broadcaster.wake),
            )
            if isinstance(target, TimelineBase):
                self._app.timelines.add(target)
            self._interactions.target_changed(target)
            self._app.frames.publish(frame.take_all())
        if self.autoplay and isinstance(target, Playable) and not target.is_running:
            target.run()
        self._broadcaster.status_changed()

    def _status_changed(self) -> None:
        self._broadcaster.status_changed()

    def _register(self, name: str, callback: Callable[[], None], description: str) -> None:
        self._app.register_command(name, callback, description=description)

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

    # -- health -----------------------------------------------------------------------------------
    @classmethod
    def check_task(cls, task: Future[Any] | None) -> None:
        """Check if a task has thrown an exception, and reraise it if so."""
        raise_if_failed(task)

    def health_check(self) -> None:
        """Check background tasks to ensure they have not encountered an exception.

        Re-raises, on the calling thread, an exception raised by the broadcaster, by the
        target's own playback thread or by the NATS relay's threads. A callback observing
        the session's traits that raised (once, since the last check) gets a
        ``RuntimeError`` from it; it did not stop the broadcast. Does nothing when all is
        well.
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
        if (relay := self._app.relay) is not None:
            relay.health_check()

    # -- what the broadcaster runs (see framecast.session.broadcaster) -----------------
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
        return True

    def _refresh_status(self) -> None:
        """Copy the live status into the traits (a trait only notifies when it changes).

        Runs on the broadcaster's thread only (see
        :class:`~framecast.session.broadcaster.Broadcaster`).
        """
        target = self._target
        playing = isinstance(target, Playable) and target.is_playing
        running = isinstance(target, Playable) and target.is_running
        frame = self._frame
        try:
            with self.hold_trait_notifications():
                self.set_trait(
                    "target_kind", type(target).__name__ if target is not None else "none"
                )
                self.set_trait(
                    "timeline", target.timeline_id if isinstance(target, TimelineBase) else ""
                )
                self.set_trait("playing", playing)
                self.set_trait("running", running)
                self.set_trait("frame_index", 0 if frame is None else frame.index)
                self.set_trait("clients", self._client_count())
                self.set_trait("fps", round(self._broadcaster.fps, 1))
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

    def on_close(self, callback: Callable[[], None], *, remove: bool = False) -> None:
        """Call ``callback()`` once this session is closed (at once if it is already)."""
        if remove:
            self._closing.remove(callback)
        else:
            self._closing.add(callback)

    def close(self) -> None:
        """Remove the current target and close down the server and background tasks.

        Idempotent. Afterwards no thread of this session runs and its port is free.
        """
        with self._close_lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._broadcaster.stop()
        with self._target_lock:
            target, self._target, self._frame = self._target, None, None
            self._unlisten()
            self._unlisten = _nothing
        if isinstance(target, Playable):
            target.stop()
        self._interactions.close()
        self._app.close()
        self._closing.run()

    @classmethod
    @contextmanager
    def start(cls, **kwargs: Any) -> Generator[Session, None, None]:
        """Start a session as a context manager, calling close() after completion."""
        session = cls(**kwargs)
        try:
            yield session
        finally:
            session.close()

    # The notebook layer sits above this one: it registers how a session displays, and
    # what controls() and view() make, in the hook table of framecast._support.display.
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In a notebook, a session shows as its control bar (see :meth:`controls`)."""
        return mimebundle(self, **kwargs)

    def _display_(self) -> Any:
        """In marimo, a session shows as its control bar too."""
        return marimo(self)

    def record(self, path: str | os.PathLike[str], **options: Any) -> Recorder:
        """Record what this session sends into a new file (``keyframe_interval``,
        ``overwrite``: see :func:`~framecast.recording.feeds.record_cores`); it stops with
        ``.stop()``, a ``with`` block, or the session's close."""
        if self.closed:
            raise RuntimeError("the session is closed: there is nothing to record")
        source = f"session {self.name!r} at {self.address}:{self.port}"
        recorder = record_cores(self._app.cores, path, source=source, **options)
        self.on_close(recorder.stop)
        return recorder

    def interact(
        self, particles: int | npt.ArrayLike, position: npt.ArrayLike, **options: Any
    ) -> InteractionHandle:
        """Pull ``particles`` toward ``position`` (nm) while the live target runs; returns a
        handle to ``move(position)`` and ``stop()`` it. ``kind`` (``"gaussian"``,
        ``"spring"``, ``"constant"``), ``scale``, ``mass_weighted`` and ``max_force`` are
        NanoVer's (see :mod:`framecast.targets.interactions`). ``TypeError`` when the
        target is not a live simulation, ``ValueError`` for a NaN position."""
        return self._interactions.interact(particles, position, **options)

    def controls(self) -> Any:
        """The notebook control bar of this session (an ipywidgets widget)."""
        return make("controls", self)

    def view(self, listen: str = "default", **kwargs: Any) -> Any:
        """A 3D view of this session in the notebook (a ``Viewer`` widget); ``RuntimeError``
        once the session is closed. The view is itself a client: it listens on the named
        session ``listen`` (``"default"``, which :attr:`sessions` tracks from the start), so
        published transitions and the notebook's links move it with no setup. ``plot``
        (series, as :meth:`plot` takes them) adds a plot strip under the view."""
        self._check_open()
        return make("viewer", self, listen, **kwargs)

    def plot(self, *series: object, **kwargs: Any) -> Any:
        """A plot of ``series`` (frame keys such as ``"energy.potential"``, functions of a
        frame, :func:`framecast.distance`) over this session's timeline; a click on it sends
        the session and every viewer there (a ``Plot`` widget; ``x``, ``height``)."""
        self._check_open()
        return make("plot", self, *series, **kwargs)

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
        relayed = f", relayed to {url}" if (url := self.relay_url) else ""
        return (
            f"<Session {self.name!r} at {self._app.target}{relayed}, "
            f"target={self.target_kind}, {state}, {self.clients} client(s)>"
        )


def _nothing() -> None:
    """The listener removal of a session that shows nothing."""
