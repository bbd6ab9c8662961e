"""The page's cache of a trajectory's positions, fed by a viewer of the same kernel.

When the session shows a :class:`~framecast.Trajectory`, its positions go to the page once,
in chunks, up to a memory budget. The page then plays and scrubs those frames on its own
clock, with no kernel round trip, and the viewer sends frames the page holds as an index
only (:meth:`PageCache.holds`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from framecast._support.threads import BackgroundTask
from framecast.targets.trajectory import Trajectory

__all__ = ["CACHE_CHUNK_BYTES", "CACHE_CHUNK_PAUSE", "DEFAULT_CACHE_BYTES", "PageCache"]

#: Bytes of trajectory positions a viewer caches in the page unless told otherwise.
DEFAULT_CACHE_BYTES = 256 * 2**20
#: Bytes per cache message: large enough to be cheap, small enough that live frames and
#: replies are not held up behind one message.
CACHE_CHUNK_BYTES = 4 * 2**20
#: Pause between cache messages, so the cache never floods IOPub or the page.
CACHE_CHUNK_PAUSE = 0.01

#: Sends a message to the page with the viewer's lock held; False once the viewer closed.
Send = Callable[[dict[str, Any], list[memoryview]], bool]


class PageCache:
    """What the page holds of the trajectory on show, and the thread that sends it.

    ``target()`` is the session's target; ``send`` and ``done(frames)`` (the page now holds
    that many frames) are called with ``lock`` held, the viewer's send lock, which keeps
    cache chunks and frames in one order on the wire.
    """

    def __init__(
        self,
        budget: int,
        target: Callable[[], object],
        send: Send,
        lock: threading.Lock,
        done: Callable[[int], None],
    ) -> None:
        self._budget = budget
        self._target = target
        self._send = send
        self._lock = lock
        self._done = done
        # (timeline, frames) that the page holds completely, from the first frame.
        self._held: tuple[str, int] | None = None
        self._task: BackgroundTask | None = None
        self._again = False

    def holds(self, timeline: str | None, index: int) -> bool:
        """True when the page holds frame ``index`` of ``timeline`` (lock held)."""
        return self._held is not None and self._held[0] == timeline and index < self._held[1]

    def plan(self) -> tuple[Trajectory, int] | None:
        """The trajectory on show and how many of its frames fit the budget, if any."""
        target = self._target()
        if not isinstance(target, Trajectory) or self._budget <= 0:
            return None
        frame_bytes = target.particle_count * 3 * 4
        frames = min(target.frame_count, self._budget // max(frame_bytes, 1))
        return (target, frames) if frames > 0 else None

    def offer(self, have: dict[str, Any] | None, *, closed: bool) -> None:
        """Send the trajectory's positions to the page, unless ``have`` (the page's
        ``timeline`` and how many ``frames`` from the first it holds) shows it needs none.
        Call with the lock held; ``closed`` says the viewer is closed."""
        plan = self.plan()
        if plan is None or closed:
            return
        trajectory, frames = plan
        wanted = (trajectory.timeline_id, frames)
        held = have.get("frames", 0) if have and have.get("timeline") == wanted[0] else 0
        sending = self._task is not None and not self._task.future.done()
        if held == frames and not sending:
            self._held = wanted
            return
        if sending:
            # A page that holds the first chunks is receiving the rest; one that holds
            # nothing came late, and gets everything once more when this pass ends.
            self._again = self._again or held == 0
            return
        self._held = None  # until the page has every frame, positions go with frames
        self._again = False
        self._task = BackgroundTask("framecast-viewer-cache", self._send_all)
        self._task.start()

    def stop(self) -> BackgroundTask | None:
        """Ask the sending thread to stop and return it, to join (lock held)."""
        task = self._task
        if task is not None:
            task.stop_event.set()
        return task

    def _send_all(self, stop: threading.Event) -> None:
        """Send the positions in chunks; IOPub keeps them in order with the frames, so a
        frame sent after the last chunk finds its positions in the page. A streamed
        trajectory's frames are read from its file one chunk at a time."""
        while not stop.is_set() and (plan := self.plan()) is not None:
            trajectory, frames = plan
            particles = trajectory.particle_count
            per_chunk = max(1, CACHE_CHUNK_BYTES // max(particles * 3 * 4, 1))
            replaced = False
            for first in range(0, frames, per_chunk):
                if self._target() is not trajectory:
                    replaced = True  # the session shows another target: its cache, if any
                    break
                count = min(per_chunk, frames - first)
                block = trajectory.frame_positions(first, first + count)
                content = {
                    "type": "cache",
                    "timeline": trajectory.timeline_id,
                    "frame_count": trajectory.frame_count,
                    "particles": particles,
                    "first": first,
                    "count": count,
                    "frames": frames,
                }
                with self._lock:
                    if not self._send(content, [block.reshape(-1).view(np.uint8).data]):
                        return
                if stop.wait(CACHE_CHUNK_PAUSE):
                    return
            if replaced:
                with self._lock:
                    self._again = False  # this pass starts over with the new target
                continue
            with self._lock:
                if self._again:
                    self._again = False
                    continue
                self._held = (trajectory.timeline_id, frames)
                self._done(frames)
                return
