"""``Taps``: observers of a core's changes, such as a recorder, called where the change is made.

A tap must return at once (it is called under the core's own lock, so that taps see changes in
the order they were made): a recorder only stamps and queues what it is handed. A tap that
raises is logged and removed from nothing else's path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, ParamSpec

__all__ = ["Taps"]

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Taps(Generic[P]):
    """Callbacks to call with each change; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taps: tuple[Callable[P, None], ...] = ()

    def add(self, tap: Callable[P, None]) -> Callable[[], None]:
        """Call ``tap`` with every change from now on; returns the function that removes it."""
        with self._lock:
            self._taps = (*self._taps, tap)

        def remove() -> None:
            with self._lock:
                self._taps = tuple(t for t in self._taps if t is not tap)

        return remove

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for tap in self._taps:
            try:
                tap(*args, **kwargs)
            except Exception:
                log.exception("framecast: a tap failed")

    def __bool__(self) -> bool:
        return bool(self._taps)
