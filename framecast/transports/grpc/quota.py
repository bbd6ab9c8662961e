"""Per-client stream quotas: no one client may take every stream slot of a server."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from framecast.core.limits import LimitExceededError

__all__ = ["ClientQuota"]


class ClientQuota:
    """Counts the streams each client holds open, refusing one past ``limit``.

    A client is whatever key the front door gives (the gRPC servicers give the peer
    address, so one connection is one client). Thread-safe; transport-free.
    """

    def __init__(
        self,
        limit: int,
        *,
        what: str = "streams",
        setting: str = "Limits.max_streams_per_client",
        per_host: int | None = None,
    ) -> None:
        self._limit = limit
        self._what = what
        self._setting = setting
        self._per_host = per_host
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()
        self._hosts: Counter[str] = Counter()

    @contextmanager
    def stream(self, client: str, host: str | None = None) -> Iterator[None]:
        """Count one stream of ``client`` (and of ``host``, the process or machine behind
        it, when known) for the ``with`` block.

        Raises :class:`~framecast.core.limits.LimitExceededError` naming the setting when
        ``client`` holds ``limit`` streams already, or ``host`` holds ``per_host``.
        """
        host = host if self._per_host is not None else None
        with self._lock:
            if self._open[client] >= self._limit:
                raise LimitExceededError(
                    f"this client has {self._limit} {self._what} open already "
                    f"({self._setting}); close one first"
                )
            if host is not None and self._per_host is not None:
                if self._hosts[host] >= self._per_host:
                    raise LimitExceededError(
                        f"{host} has {self._per_host} {self._what} open already, over all "
                        "its connections (Limits.max_streams_per_host); close one first"
                    )
                self._hosts[host] += 1
            self._open[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._open[client] -= 1
                if self._open[client] <= 0:
                    del self._open[client]
                if host is not None:
                    self._hosts[host] -= 1
                    if self._hosts[host] <= 0:
                        del self._hosts[host]

    def open_streams(self, client: str) -> int:
        """How many streams ``client`` holds now."""
        with self._lock:
            return self._open[client]

    def __len__(self) -> int:
        """How many clients hold at least one stream."""
        with self._lock:
            return len(self._open)
